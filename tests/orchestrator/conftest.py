"""Small datasets in their real distribution formats, built on the fly (there is no network).

CIFAR: the "python version" pickles in a tar.gz; Tiny-ImageNet: the official zip layout with
``val/val_annotations.txt``; ImageFolder: a tree of PNGs. Images encode their class as a flat
colour, so a test can check that decoding and relabelling kept image and label together.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image


def class_colour(label: int) -> tuple[int, int, int]:
    """A colour per class, far apart for the first few classes so lossy JPEG keeps them apart."""
    return ((label * 97) % 256, (label * 53 + 40) % 256, (label * 181 + 90) % 256)


def encoded(label: int, size: int, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), class_colour(label)).save(buffer, format=fmt)
    return buffer.getvalue()


def write_cifar_archive(root: Path, name: str = "cifar100", train: int = 40, test: int = 20) -> np.ndarray:
    """``cifar-10-python.tar.gz`` or ``cifar-100-python.tar.gz`` in ``root``; returns the train pixels."""
    rng = np.random.default_rng(0)
    classes = 100 if name == "cifar100" else 10
    splits = {"train": rng.integers(0, 256, (train, 3072), dtype=np.uint8),
              "test": rng.integers(0, 256, (test, 3072), dtype=np.uint8)}
    if name == "cifar100":
        folder, files = "cifar-100-python", {"train": "train", "test": "test"}
        meta_file = "meta"
        meta = {"fine_label_names": [f"class{i}" for i in range(100)],
                "coarse_label_names": [f"super{i}" for i in range(20)]}
    else:
        folder, files = "cifar-10-batches-py", {"train": "data_batch_1", "test": "test_batch"}
        meta_file, meta = "batches.meta", {"label_names": [f"class{i}" for i in range(10)]}
    members = {meta_file: meta}
    for split, data in splits.items():
        labels = [i % classes for i in range(len(data))]
        entry = {b"data": data, b"labels": labels} if classes == 10 else {
            b"data": data, b"fine_labels": labels, b"coarse_labels": [label % 20 for label in labels]}
        members[files[split]] = entry
    if classes == 10:  # the real archive has five training batches
        empty = {b"data": np.zeros((0, 3072), dtype=np.uint8), b"labels": []}
        members.update({f"data_batch_{i}": empty for i in range(2, 6)})
    archive = root / ("cifar-100-python.tar.gz" if classes == 100 else "cifar-10-python.tar.gz")
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for member, content in members.items():
            data = pickle.dumps(content)
            info = tarfile.TarInfo(f"{folder}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return splits["train"]


def write_tiny_imagenet_zip(path: Path, classes: int = 4, train_per_class: int = 3, val_per_class: int = 2,
                            size: int = 64) -> dict[str, str]:
    """The official zip layout; val images are listed out of class order. Returns {val file: wnid}."""
    wnids = [f"n{1000 + 7 * i:08d}" for i in range(classes)]
    rng = np.random.default_rng(1)
    val_labels = rng.permutation(np.repeat(np.arange(classes), val_per_class))
    annotations = {f"val_{i}.JPEG": wnids[label] for i, label in enumerate(val_labels)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        top = "tiny-imagenet-200"
        zf.writestr(f"{top}/wnids.txt", "\n".join(reversed(wnids)) + "\n")  # the file is not sorted either
        zf.writestr(f"{top}/words.txt", "".join(f"{w}\tthing {i}, other name\n" for i, w in enumerate(wnids)))
        for label, wnid in enumerate(wnids):
            zf.writestr(f"{top}/train/{wnid}/{wnid}_boxes.txt", "")
            for i in range(train_per_class):
                zf.writestr(f"{top}/train/{wnid}/images/{wnid}_{i}.JPEG", encoded(label, size, "JPEG"))
        lines = [f"{name}\t{wnid}\t0\t0\t{size - 1}\t{size - 1}" for name, wnid in annotations.items()]
        zf.writestr(f"{top}/val/val_annotations.txt", "\n".join(lines) + "\n")
        for name, wnid in annotations.items():
            zf.writestr(f"{top}/val/images/{name}", encoded(wnids.index(wnid), size, "JPEG"))
        zf.writestr(f"{top}/test/images/test_0.JPEG", encoded(0, size, "JPEG"))
    return annotations


def write_image_folder(root: Path, counts: dict[str, int], size: int = 16) -> None:
    """``root/<class>/<i>.png`` with ``counts[class]`` images each (classes coloured by sorted order)."""
    for label, name in enumerate(sorted(counts)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(counts[name]):
            (root / name / f"{i}.png").write_bytes(encoded(label, size, "PNG"))


@pytest.fixture
def cifar_archive() -> Callable[..., np.ndarray]:
    return write_cifar_archive


@pytest.fixture
def tiny_imagenet_zip() -> Callable[..., dict[str, str]]:
    return write_tiny_imagenet_zip


@pytest.fixture
def image_folder() -> Callable[..., None]:
    return write_image_folder


def nearest_class(images: torch.Tensor, classes: int) -> torch.Tensor:
    """The class whose colour is nearest each (flat-coloured) image's mean colour."""
    means = images.float().mean(dim=(2, 3))
    palette = torch.tensor([class_colour(k) for k in range(classes)], dtype=torch.float32)
    return torch.cdist(means, palette).argmin(dim=1)


@pytest.fixture
def colour_labels() -> Callable[[torch.Tensor, int], torch.Tensor]:
    return nearest_class


@pytest.fixture(scope="session")
def study_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data root holding every archive the study specs need, each in its real format."""
    root = tmp_path_factory.mktemp("study-data")
    write_cifar_archive(root, "cifar10", train=40, test=8)
    write_cifar_archive(root, "cifar100", train=40, test=8)
    write_tiny_imagenet_zip(root / "tiny-imagenet-200.zip", classes=8, train_per_class=3, val_per_class=1)
    return root
