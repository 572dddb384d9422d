"""``orchestrate data prepare`` and ``data import``: a registered dataset's archive fetched or
taken from the user, verified and decoded into the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .archive import ArchiveSource, DatasetNotFoundError, import_archive, prepare
from .registry import dataset_info, default_root, load_dataset
from .tensors import DatasetTensors


def _source(name: str) -> Optional[ArchiveSource]:
    try:
        return dataset_info(name).archive
    except KeyError as exc:
        raise DatasetNotFoundError(str(exc.args[0])) from None


def prepare_dataset(name: str, root: Optional[Path] = None, *, check: bool = True, **options: Any) -> DatasetTensors:
    """``orchestrate data prepare``: an archived dataset is fetched, verified and re-decoded; any
    other (``imagefolder``, ``digits``) is built with ``options``, which writes its cache."""
    source = _source(name)
    root = root or default_root()
    if source is not None:
        prepare(source, root, check=check)
    return load_dataset(name, root=root, download=True, **options)


def import_dataset(name: str, archive: Path, root: Optional[Path] = None, *, check: bool = True) -> DatasetTensors:
    """``orchestrate data import``: decode an archive the user has into the cache."""
    source = _source(name)
    if source is None:
        raise DatasetNotFoundError(f"{name} is not distributed as one archive; nothing to import "
                                   "(imagefolder reads its folder where it is: data prepare imagefolder -o path=DIR)")
    return import_archive(source, archive, root or default_root(), check=check)
