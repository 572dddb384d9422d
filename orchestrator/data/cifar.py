"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the official "python version" archives.

The pickles are read here rather than through ``torchvision.datasets.CIFAR10`` because that class
insists on the official per-file checksums, which rejects the small archives in the same format
that tests build; the archive itself is checked by ``orchestrate data prepare``/``import``.
CIFAR-100's 20 coarse superclasses are kept as a second label set (``options: {labels: coarse}``).
"""

from __future__ import annotations

import io
import pickle
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .archive import ArchiveReader, ArchiveSource, load_archived
from .registry import register_dataset
from .tensors import DatasetTensors, LabelSet

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"


def _unpickle(reader: ArchiveReader, name: str) -> dict[str, object]:
    entry = pickle.load(io.BytesIO(reader.read(name)), encoding="latin1")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _split(reader: ArchiveReader, names: list[str], label_keys: tuple[str, ...]):
    entries = [_unpickle(reader, name) for name in names]
    data = np.concatenate([np.asarray(e["data"], dtype=np.uint8) for e in entries])
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    labels = [torch.from_numpy(np.concatenate([np.asarray(e[k], dtype=np.int64) for e in entries]))
              for k in label_keys]
    return images, labels


def _member(reader: ArchiveReader, folder: str, file: str) -> str:
    """``folder/file`` in an archive, or ``file`` when reading the extracted folder itself."""
    inside = f"{folder}/{file}"
    return inside if any(True for _ in reader.names(inside)) else file


def decode_cifar10(reader: ArchiveReader) -> DatasetTensors:
    folder = "cifar-10-batches-py"
    train = [_member(reader, folder, f"data_batch_{i}") for i in range(1, 6)]
    train_images, (train_labels,) = _split(reader, train, ("labels",))
    val_images, (val_labels,) = _split(reader, [_member(reader, folder, "test_batch")], ("labels",))
    names = list(_unpickle(reader, _member(reader, folder, "batches.meta"))["label_names"])
    return DatasetTensors(train_images, train_labels, val_images, val_labels, len(names), names)


def decode_cifar100(reader: ArchiveReader) -> DatasetTensors:
    folder, keys = "cifar-100-python", ("fine_labels", "coarse_labels")
    train_images, (train_fine, train_coarse) = _split(reader, [_member(reader, folder, "train")], keys)
    val_images, (val_fine, val_coarse) = _split(reader, [_member(reader, folder, "test")], keys)
    meta = _unpickle(reader, _member(reader, folder, "meta"))
    coarse = LabelSet(train_coarse, val_coarse, list(meta["coarse_label_names"]))
    fine_names = list(meta["fine_label_names"])
    return DatasetTensors(train_images, train_fine, val_images, val_fine, len(fine_names), fine_names,
                          label_sets={"coarse": coarse})


CIFAR10 = ArchiveSource("cifar10", "cifar-10-python.tar.gz", CIFAR_URL + "cifar-10-python.tar.gz",
                        "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py", decode_cifar10)
CIFAR100 = ArchiveSource("cifar100", "cifar-100-python.tar.gz", CIFAR_URL + "cifar-100-python.tar.gz",
                         "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python", decode_cifar100)

register = partial(register_dataset, input_size=(3, 32, 32))


@register("cifar10", num_classes=10, archive=CIFAR10,
          mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
def cifar10(root: Path, download: bool) -> DatasetTensors:
    return load_archived(CIFAR10, root, download)


@register("cifar100", num_classes=None, archive=CIFAR100,
          mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762))
def cifar100(root: Path, download: bool, *, labels: Literal["fine", "coarse"] = "fine") -> DatasetTensors:
    """100 fine classes, or the 20 coarse superclasses with ``labels: coarse``."""
    tensors = load_archived(CIFAR100, root, download)
    return tensors if labels == "fine" else tensors.relabel(labels)
