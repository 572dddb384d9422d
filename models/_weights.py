"""The local store of pretrained weights, so a machine without network can load them.

timm fetches weights from the Hugging Face Hub (or a URL) on first use. A cluster's GPU nodes
often have no network, so weights are fetched ahead (``orchestrate weights prefetch``) or
imported from a file (``orchestrate weights import``) into one folder, ``$ORCHESTRATE_WEIGHTS``
(default ``~/.cache/orchestrate/weights``), with a manifest of each file's SHA-256. A model built
with ``pretrained: true`` then loads the stored file through timm's own ``pretrained_cfg``
``file`` override, never the network; the folder can be copied to other machines whole.

Weights are named as timm names them, ``architecture.tag`` (``resnet50.tv_in1k``).
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator, Optional

from timm.models import get_pretrained_cfg

WEIGHTS_ENV = "ORCHESTRATE_WEIGHTS"
MANIFEST = "manifest.json"
_PROBE: ContextVar[Optional[list[str]]] = ContextVar("weights_probe", default=None)


def weights_dir() -> Path:
    return Path(os.environ.get(WEIGHTS_ENV) or Path.home() / ".cache" / "orchestrate" / "weights")


def weight_name(timm_name: str) -> str:
    """``architecture.tag`` of the weights ``timm.create_model(timm_name, pretrained=True)`` loads."""
    cfg = get_pretrained_cfg(timm_name)
    if cfg is None:
        raise ValueError(f"timm publishes no pretrained weights for {timm_name!r}")
    return f"{cfg.architecture}.{cfg.tag}" if cfg.tag else cfg.architecture


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(folder: Optional[Path] = None) -> dict[str, dict[str, Any]]:
    path = (folder or weights_dir()) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def record(name: str, path: Path, source: str, folder: Optional[Path] = None) -> str:
    """Enter ``path`` (already inside the store) in the manifest with its checksum; returns it."""
    folder = folder or weights_dir()
    entries = manifest(folder)
    digest = sha256(path)
    entries[name] = {"file": str(path.relative_to(folder)), "sha256": digest, "source": source}
    (folder / MANIFEST).write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    return digest


def stored_file(name: str, folder: Optional[Path] = None) -> Optional[Path]:
    """The stored file of weights ``name``, or None when the store has none."""
    folder = folder or weights_dir()
    entry = manifest(folder).get(name)
    if entry is None or not (folder / entry["file"]).is_file():
        return None
    return folder / entry["file"]


@contextmanager
def recording_weights() -> Iterator[list[str]]:
    """Within it, a pretrained build records the weights it would load and builds without them
    (same architecture, same ``pretrained_cfg``): which weights a configuration needs, answered
    by the code that loads them."""
    names: list[str] = []
    token = _PROBE.set(names)
    try:
        yield names
    finally:
        _PROBE.reset(token)


def probing() -> Optional[list[str]]:
    """The list a pretrained build records into, inside :func:`recording_weights`."""
    return _PROBE.get()

