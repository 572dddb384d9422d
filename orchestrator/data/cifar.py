"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the official "python version" archives.

The archive is downloaded and checked with torchvision's utilities. The pickles are read here
rather than through ``torchvision.datasets.CIFAR10`` because that class insists on the official
per-file checksums, which rejects the small archives in the same format that tests build. The
decoded tensors are cached as one file, so trials never unpickle again.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import OrchestrateError
from .registry import register_dataset
from .tensors import DatasetTensors


@dataclass(frozen=True)
class CifarLayout:
    name: str
    archive: str
    md5: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: str
    names_key: str

    @property
    def url(self) -> str:
        return f"https://www.cs.toronto.edu/~kriz/{self.archive}"


CIFAR10 = CifarLayout(
    "cifar10", "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta", "labels", "label_names",
)
CIFAR100 = CifarLayout(
    "cifar100", "cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python",
    ("train",), "test", "meta", "fine_labels", "fine_label_names",
)


class DatasetNotFoundError(OrchestrateError):
    pass


def _unpickle(path: Path) -> dict[str, object]:
    with open(path, "rb") as handle:
        entry = pickle.load(handle, encoding="latin1")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _decode(folder: Path, layout: CifarLayout) -> DatasetTensors:
    def split(files: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        entries = [_unpickle(folder / f) for f in files]
        data = np.concatenate([np.asarray(e["data"], dtype=np.uint8) for e in entries])
        labels = np.concatenate([np.asarray(e[layout.label_key], dtype=np.int64) for e in entries])
        return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)

    train_images, train_labels = split(layout.train_files)
    val_images, val_labels = split((layout.test_file,))
    names = list(_unpickle(folder / layout.meta_file)[layout.names_key])
    return DatasetTensors(train_images, train_labels, val_images, val_labels, len(names), names)


def _fetch(root: Path, layout: CifarLayout, download: bool) -> Path:
    """The extracted folder, extracting or downloading the archive when needed."""
    from torchvision.datasets.utils import download_and_extract_archive, extract_archive

    folder, archive = root / layout.folder, root / layout.archive
    if folder.is_dir():
        return folder
    if archive.is_file():
        extract_archive(str(archive), str(root))
        return folder
    if download:
        try:
            download_and_extract_archive(layout.url, str(root), filename=layout.archive, md5=layout.md5)
            return folder
        except Exception as exc:  # any network or checksum failure gets the same advice
            reason = f"download failed ({type(exc).__name__}: {exc})"
    else:
        reason = "download is off"
    raise DatasetNotFoundError(
        f"{layout.name}: no data in {root} and {reason}; put {layout.archive} from {layout.url} "
        f"in {root} (or run `orchestrate data prepare {layout.name}` where there is a network)"
    )


def load_cifar(root: Path, download: bool, layout: CifarLayout) -> DatasetTensors:
    cache = root / f"{layout.name}.pt"
    if cache.is_file():
        return DatasetTensors.load(cache)
    tensors = _decode(_fetch(root, layout, download), layout)
    tensors.save(cache)
    return tensors


@register_dataset("cifar10")
def cifar10(root: Path, download: bool) -> DatasetTensors:
    return load_cifar(root, download, CIFAR10)


@register_dataset("cifar100")
def cifar100(root: Path, download: bool) -> DatasetTensors:
    return load_cifar(root, download, CIFAR100)
