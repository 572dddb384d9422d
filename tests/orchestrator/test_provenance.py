"""What a sweep records about where it ran: git state, versions, hardware, command line, and
what each epoch cost the machine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch

from orchestrator.provenance import PACKAGES, git_state, provenance
from orchestrator.train.system import RSS, system_metrics


def test_git_state_names_the_commit_and_whether_the_tree_is_dirty(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    assert git_state(tmp_path) == {"git_commit": git("rev-parse", "HEAD").strip(), "git_dirty": "false"}
    (tmp_path / "a.txt").write_text("b")
    assert git_state(tmp_path)["git_dirty"] == "true"


def test_outside_a_repository_there_is_no_git_state(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {}


def test_a_sweep_started_outside_the_checkout_records_the_codes_commit_too(tmp_path: Path) -> None:
    """The study's folder is not a repository here: the commit of the code that ran is still there."""
    from orchestrator.provenance import PACKAGE_FOLDER

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_FOLDER, capture_output=True, text=True,
                          check=True).stdout.strip()
    fields = provenance(tmp_path, ["orchestrate", "sweep", "spec.yaml"])
    assert "git_commit" not in fields and fields["orchestrate_git_commit"] == head


def test_a_package_copy_a_repository_does_not_track_records_no_commit(tmp_path: Path) -> None:
    """An installed copy in a virtual environment inside a study's repository: not the code's commit."""
    from orchestrator.provenance import PACKAGE_FOLDER, code_state

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "spec.yaml").write_text("name: x\n")
    subprocess.run(["git", "add", "spec.yaml"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a"], cwd=tmp_path, check=True)
    installed = tmp_path / ".venv" / "site-packages" / "orchestrator"
    installed.mkdir(parents=True)
    (installed / "provenance.py").write_text((PACKAGE_FOLDER / "provenance.py").read_text())
    assert code_state(installed) == {} and git_state(installed)["git_commit"]


def test_provenance_has_versions_hardware_and_the_exact_command(tmp_path: Path) -> None:
    fields = provenance(tmp_path, ["orchestrate", "sweep", "my spec.yaml", "train.epochs=2"])
    assert {f"version.{name}" for name in (*PACKAGES, "python")} <= fields.keys()
    assert fields["version.torch"] == torch.__version__
    assert {"host", "cpu", "gpu", "cuda", "cudnn"} <= fields.keys() and fields["cpu"]
    assert fields["command"] == "orchestrate sweep 'my spec.yaml' train.epochs=2"


def test_system_metrics_report_the_process_memory() -> None:
    found = system_metrics(torch.device("cpu"))
    assert set(found) == {RSS} and found[RSS] > 10  # MB: a Python process with torch loaded


def test_a_gpu_utilisation_nvml_cannot_give_is_left_out_and_the_epoch_goes_on(monkeypatch) -> None:
    """pynvml raises its own NVMLError (no RuntimeError) where a query is not supported."""
    from orchestrator.train.system import GPU_MEM, GPU_UTIL

    class NVMLError(Exception):
        pass

    def unsupported(device=None) -> int:
        raise NVMLError("Not Supported")

    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 2**30)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "utilization", unsupported)
    found = system_metrics(torch.device("cuda", 0))
    assert found[GPU_MEM] == 1024.0 and GPU_UTIL not in found
    monkeypatch.setattr(torch.cuda, "utilization", lambda device=None: 87)
    assert system_metrics(torch.device("cuda", 0))[GPU_UTIL] == 87.0
