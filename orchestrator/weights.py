"""Pretrained weights a study needs: which, whether they are here, fetching and importing them.

A pretrained row fails in every trial when its weights cannot be downloaded (a GPU node without
network), and rows that can download each fetch the same file at once. So the driver checks before
Ray starts that every weight is in the local store (``models/_weights.py``) or in timm's own caches,
and refuses the study otherwise, naming the row, the weights and the two ways to get them:
``orchestrate weights prefetch SPEC`` on a machine with network, ``orchestrate weights import``
of a file copied by hand. Both record the file's SHA-256 in the store's manifest.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

import models
from models import _weights as store

from .errors import OrchestrateError, SpecError
from .spec.plans import TrialPlan
from .spec.study import StudySpec

HF_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm looks for in a Hub repo, in its order


def config_weights(config: dict[str, Any]) -> list[str]:
    """The pretrained weights a resolved trial config's model loads (none without ``pretrained``)."""
    model = config["model"]
    options = {k: v for k, v in model.items() if k != "name"}
    if not options.get("pretrained"):
        return []
    return models.needed_weights(model["name"], **options)[0]


def study_weights(spec: StudySpec, plans: Optional[list[TrialPlan]]) -> dict[str, list[str]]:
    """Row label -> the weights it needs, for every row that needs any (the base config's row
    when the design proposes its trials while it runs)."""
    rows = {plan.label: plan.config for plan in plans} if plans is not None else {spec.name: spec.trial_config()}
    needed = {label: config_weights(config) for label, config in rows.items()}
    return {label: names for label, names in needed.items() if names}


def cached_elsewhere(name: str) -> bool:
    """Whether timm finds ``name`` in the Hugging Face or torch.hub cache, where an earlier
    download with network left it."""
    import torch.hub
    from huggingface_hub import try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    if cfg.hf_hub_id and any(isinstance(try_to_load_from_cache(cfg.hf_hub_id, f), str) for f in HF_FILES):
        return True
    return bool(cfg.url) and (Path(torch.hub.get_dir()) / "checkpoints" / Path(cfg.url).name).is_file()


def is_available(name: str) -> bool:
    return models.stored_file(name) is not None or cached_elsewhere(name)


def check_weights(spec: StudySpec, plans: Optional[list[TrialPlan]], *, spec_path: str = "SPEC") -> None:
    """Refuse (exit 2) a study a row of which needs weights that are neither stored nor cached."""
    missing = [(label, name) for label, names in study_weights(spec, plans).items()
               for name in names if not is_available(name)]
    if not missing:
        return
    label, name = missing[0]
    more = f" (and {len(missing) - 1} more row(s): {', '.join(r for r, _ in missing[1:])})" if len(missing) > 1 else ""
    raise SpecError(f"row {label} needs the pretrained weights {name}, which are not on this machine{more}: "
                    f"fetch them with `orchestrate weights prefetch {spec_path}` where there is network, or "
                    f"import a copy with `orchestrate weights import {name} FILE`")


def download(name: str, folder: Path) -> tuple[Path, str]:
    """Fetch the file timm would load for weights ``name`` into ``folder``: from the Hugging Face
    Hub when timm names a repo (``model.safetensors``, else ``pytorch_model.bin``), else its URL."""
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return _fetch(name, folder)
    except (OSError, HfHubHTTPError, LocalEntryNotFoundError) as exc:  # no network, or the server refused
        shutil.rmtree(folder, ignore_errors=True)  # called only for weights not stored: a partial download
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OrchestrateError(f"{name}: could not download the weights ({cause}); run this where there is "
                               f"network, or import a copy with `orchestrate weights import {name} FILE`") from None


def _fetch(name: str, folder: Path) -> tuple[Path, str]:
    import torch.hub
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    folder.mkdir(parents=True, exist_ok=True)
    if cfg.hf_hub_id:
        for filename in HF_FILES:
            try:
                return Path(hf_hub_download(cfg.hf_hub_id, filename, local_dir=folder)), f"hf://{cfg.hf_hub_id}/{filename}"
            except RemoteEntryNotFoundError:  # the repo has the other format
                continue
    if not cfg.url:
        raise SpecError(f"{name}: timm names no file to download for these weights")
    target = folder / Path(cfg.url).name
    torch.hub.download_url_to_file(cfg.url, str(target))
    return target, cfg.url


def prefetch(spec: StudySpec, plans: Optional[list[TrialPlan]], *, echo: Callable[[str], None] = print,
             fetch: Optional[Callable[[str, Path], tuple[Path, str]]] = None) -> dict[str, str]:
    """Download every weight the study needs that the store lacks; weight name -> SHA-256."""
    fetch = fetch or download
    recorded: dict[str, str] = {}
    for name in sorted({n for names in study_weights(spec, plans).values() for n in names}):
        stored = models.stored_file(name)
        if stored is not None:
            echo(f"{name}: already stored ({stored})")
            continue
        folder = models.weights_dir() / name
        path, source = fetch(name, folder)
        recorded[name] = store.record(name, path, source, models.weights_dir())
        echo(f"{name}: {path} sha256 {recorded[name]}")
    return recorded


def is_checkpoint(file: Path) -> bool:
    """Whether ``file`` has a checkpoint's layout: torch.save's zip archive or its older pickle
    stream, or safetensors (an 8-byte header length, then the header's JSON)."""
    import zipfile

    with open(file, "rb") as stream:
        head = stream.read(9)
    pickled = head[:1] == b"\x80"  # a pickle's PROTO opcode: torch.save before its zip format
    safetensors = len(head) == 9 and head[8:9] == b"{"
    return zipfile.is_zipfile(file) or pickled or safetensors


def import_weights(name: str, file: Path) -> tuple[str, Path, str]:
    """Copy ``file`` into the store as weights ``name`` (a timm name; without a tag, timm's
    default weights) once it loads into that architecture; returns (name, path, sha256)."""
    import timm

    try:
        name = models.weight_name(name)
    except (RuntimeError, ValueError) as exc:  # timm: an unknown name; ours: no published weights
        raise SpecError(f"{name}: not a timm model with pretrained weights ({exc})") from None
    if not is_checkpoint(file):  # torch.load's message for a stray file speaks of pickle globals
        raise SpecError(f"{file}: not a checkpoint; allowed: a state dict saved by torch.save (.pth, .pt, .bin) "
                        "or a safetensors file")
    try:
        with_file = {"pretrained_cfg_overlay": {"file": str(file)}}
        timm.create_model(name, pretrained=True, **with_file)
    except (RuntimeError, OSError, KeyError, ValueError, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"{file}: not weights of {name}: {first}") from None
    folder = models.weights_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.name
    shutil.copyfile(file, target)
    return name, target, store.record(name, target, f"import of {file}", models.weights_dir())
