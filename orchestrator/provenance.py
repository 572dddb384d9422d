"""What produced a sweep: code version, packages, hardware and command line.

Recorded on the sweep's parent run so that a number in a table can be traced back to the
commit, the library versions and the machine that made it. Every probe is best-effort: a
missing package or a folder outside git is recorded as such, never an error.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional

PACKAGES = ("orchestrate", "torch", "torchvision", "timm", "ray", "mlflow", "optuna")


def package_versions() -> dict[str, str]:
    """Version of each package the results depend on (``absent`` when missing). A loaded
    module's own ``__version__`` wins: torch's carries its build (``2.5.1+cu124``, ``+cpu``)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        loaded = getattr(sys.modules.get(name), "__version__", None)
        try:
            versions[name] = str(loaded or importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


PACKAGE_FOLDER = Path(__file__).resolve().parent


def _git(folder: Path, *args: str) -> Optional[str]:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(folder: Path) -> dict[str, str]:
    """Commit and dirty flag of the repository holding ``folder``; empty outside a repository."""
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return {}
    return {"git_commit": commit, "git_dirty": str(bool(_git(folder, "status", "--porcelain"))).lower()}


def code_state(package: Path = PACKAGE_FOLDER) -> dict[str, str]:
    """:func:`git_state` of the orchestrate checkout this code runs from (an editable install),
    keyed ``orchestrate_git_*``: a sweep started in a study's own folder records that folder's
    commit, and the code's would be lost. Empty for an installed package (its version says it),
    also one in a virtual environment inside a repository: that repository does not track it."""
    if _git(package, "ls-files", "--error-unmatch", Path(__file__).name) is None:
        return {}
    return {f"orchestrate_{key}": value for key, value in git_state(package).items()}


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux; ``platform`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def accelerator() -> dict[str, str]:
    """GPU model and count, CUDA and cuDNN versions as torch sees them (``none`` without a GPU)."""
    import torch

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    found = {"cuda": str(torch.version.cuda or "none"), "cudnn": str(cudnn or "none")}
    if not torch.cuda.is_available():
        return found | {"gpu": "none"}
    count = torch.cuda.device_count()
    return found | {"gpu": f"{count} x {torch.cuda.get_device_name(0)}"}


def provenance(folder: Path, argv: list[str]) -> dict[str, str]:
    """Every provenance field of a sweep started in ``folder`` with ``argv``, as strings."""
    fields = {f"version.{name}": version for name, version in package_versions().items()}
    fields |= git_state(folder) | code_state()
    fields |= {"host": socket.gethostname(), "cpu": cpu_model(), "cpu_count": str(os.cpu_count() or 0)}
    fields |= accelerator()
    fields["command"] = shlex.join(argv)
    return fields
