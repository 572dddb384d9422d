"""Dataset registry: ``@register_dataset("name")`` builders returning :class:`DatasetTensors`."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Callable

from ..options import lookup_in
from .tensors import DatasetTensors

DatasetBuilder = Callable[..., DatasetTensors]
_datasets: dict[str, DatasetBuilder] = {}


def register_dataset(name: str) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Register a builder ``fn(root: Path, download: bool, **options)``; duplicates raise."""

    def decorate(builder: DatasetBuilder) -> DatasetBuilder:
        if name in _datasets:
            raise ValueError(f"dataset {name!r} is already registered")
        _datasets[name] = builder
        return builder

    return decorate


def list_datasets() -> list[str]:
    return sorted(_datasets)


def dataset_options(name: str) -> dict[str, inspect.Parameter] | None:
    """Options a dataset builder takes from ``data.options`` (root and download come from data)."""
    return lookup_in("dataset", _datasets, supplied=("root", "download"))(name)


def default_root() -> Path:
    return Path(os.environ.get("ORCHESTRATE_DATA", Path.home() / ".cache" / "orchestrate" / "data"))


def load_dataset(
    name: str, *, root: str | Path | None = None, download: bool = True, **options: Any
) -> DatasetTensors:
    """Decode (or read the cache of) dataset ``name``."""
    dataset_options(name)  # raises with the valid names when unknown
    return _datasets[name](Path(root) if root else default_root(), download, **options)
