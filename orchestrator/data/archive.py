"""Datasets distributed as one archive: find, download, verify, decode once, cache.

A trial only ever reads the decoded cache (``<root>/<name>.pt``). The archive is decoded where it
lies (zip or tar read member by member, or the folder it was extracted to), so nothing is
extracted to disk. ``prepare`` fetches and verifies; ``import_archive`` takes a file the user has.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import OrchestrateError
from .tensors import DatasetTensors


class DatasetNotFoundError(OrchestrateError):
    pass


class ChecksumError(OrchestrateError):
    pass


class ArchiveReader:
    """Read the members of a zip, a tar (any compression) or an extracted folder by name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            self._names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._names = [n for n in self._zip.namelist() if not n.endswith("/")]
        elif tarfile.is_tarfile(path):
            self._tar = tarfile.open(path)
            self._members = {m.name: m for m in self._tar.getmembers() if m.isfile()}
            self._names = sorted(self._members)
        else:
            raise DatasetNotFoundError(f"{path}: not a zip or tar archive, nor a folder")

    def names(self, prefix: str = "") -> Iterator[str]:
        return (name for name in self._names if name.startswith(prefix))

    def read(self, name: str) -> bytes:
        if self.path.is_dir():
            return (self.path / name).read_bytes()
        if hasattr(self, "_zip"):
            return self._zip.read(name)
        handle = self._tar.extractfile(self._members[name])
        assert handle is not None  # members are regular files
        return handle.read()


@dataclass(frozen=True)
class ArchiveSource:
    """Where a dataset's archive comes from, and how to decode it into tensors."""

    name: str
    filename: str
    url: str
    md5: str
    folder: str  # what the archive extracts to; accepted in place of the archive
    decode: Callable[[ArchiveReader], DatasetTensors]

    def cache_path(self, root: Path) -> Path:
        return root / f"{self.name}.pt"


def verify(source: ArchiveSource, archive: Path) -> None:
    """Raise :class:`ChecksumError` unless ``archive`` is the official file (by MD5)."""
    from torchvision.datasets.utils import calculate_md5

    actual = calculate_md5(str(archive))
    if actual != source.md5:
        raise ChecksumError(
            f"{archive}: MD5 {actual} is not the official {source.filename} ({source.md5}); "
            "re-download it, or pass --no-verify to import it anyway"
        )


def decode_and_cache(source: ArchiveSource, archive: Path, root: Path) -> DatasetTensors:
    tensors = source.decode(ArchiveReader(archive))
    tensors.save(source.cache_path(root))
    return tensors


def fetch(source: ArchiveSource, root: Path, download: bool) -> Path:
    """The archive (or its extracted folder) under ``root``, downloaded and verified if missing."""
    for candidate in (root / source.filename, root / source.folder):
        if candidate.exists():
            return candidate
    if download:
        from torchvision.datasets.utils import download_url

        try:
            download_url(source.url, str(root), filename=source.filename, md5=source.md5)
            return root / source.filename
        except Exception as exc:  # any network or checksum failure gets the same advice
            reason = f"download failed ({type(exc).__name__}: {exc})"
    else:
        reason = "download is off"
    raise DatasetNotFoundError(
        f"{source.name}: no data in {root} and {reason}; put {source.filename} from {source.url} "
        f"in {root}, or run `orchestrate data import {source.name} PATH` with the archive you have"
    )


def load_archived(source: ArchiveSource, root: Path, download: bool) -> DatasetTensors:
    """The cached tensors, decoding the archive first if this is the first use."""
    cache = source.cache_path(root)
    if cache.is_file():
        return DatasetTensors.load(cache)
    return decode_and_cache(source, fetch(source, root, download), root)


def prepare(source: ArchiveSource, root: Path, *, check: bool = True) -> DatasetTensors:
    """Download (or find) and verify the archive, then rewrite the cache from it."""
    archive = fetch(source, root, download=True)
    if check and archive.is_file():
        verify(source, archive)
    return decode_and_cache(source, archive, root)


def import_archive(source: ArchiveSource, archive: Path, root: Path, *, check: bool = True) -> DatasetTensors:
    """Decode an archive the user already has (anywhere on disk) into the cache under ``root``."""
    if not archive.exists():
        raise DatasetNotFoundError(f"{archive}: no such file")
    if check and archive.is_file():
        verify(source, archive)
    return decode_and_cache(source, archive, root)
