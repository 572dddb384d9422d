"""Tiny-ImageNet-200 (Le & Yang 2015, Stanford CS231n) from the official zip.

The zip holds ``tiny-imagenet-200/train/<wnid>/images/*.JPEG`` (500 per class) and
``val/images/*.JPEG`` (10,000 in one folder) whose classes are listed in ``val/val_annotations.txt``
(``file<TAB>wnid<TAB>box...``). The val folder is therefore relabelled from that file; the test
split has no labels and is skipped. Classes are numbered in sorted ``wnids.txt`` order, the order
``torchvision.datasets.ImageFolder`` gives the train folder, so checkpoints agree with it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .archive import ArchiveReader, ArchiveSource, load_archived
from .images import decode_all
from .registry import register_dataset
from .tensors import DatasetTensors

FOLDER = "tiny-imagenet-200"


def _prefix(reader: ArchiveReader) -> str:
    """Members are under ``tiny-imagenet-200/`` in the zip, at the top in the extracted folder."""
    return f"{FOLDER}/" if any(True for _ in reader.names(f"{FOLDER}/wnids.txt")) else ""


def _class_names(reader: ArchiveReader, prefix: str, wnids: list[str]) -> list[str]:
    """``wnid first-synonym`` per class, from ``words.txt`` when the archive has it."""
    words: dict[str, str] = {}
    if any(True for _ in reader.names(f"{prefix}words.txt")):
        for line in reader.read(f"{prefix}words.txt").decode().splitlines():
            wnid, _, text = line.partition("\t")
            words[wnid] = text.split(",")[0].strip()
    return [f"{wnid} {words[wnid]}" if wnid in words else wnid for wnid in wnids]


def read_val_annotations(text: str) -> dict[str, str]:
    """``val_annotations.txt`` -> {image file name: wnid}."""
    pairs = (line.split("\t")[:2] for line in text.splitlines() if line.strip())
    return {name: wnid for name, wnid in pairs}


def decode_tiny_imagenet(reader: ArchiveReader) -> DatasetTensors:
    prefix = _prefix(reader)
    wnids = sorted(reader.read(f"{prefix}wnids.txt").decode().split())
    index = {wnid: i for i, wnid in enumerate(wnids)}
    train_names = sorted(
        name for name in reader.names(f"{prefix}train/")
        if name.lower().endswith(".jpeg") and "/images/" in name
    )
    train_labels = [index[name[len(prefix) + len("train/"):].split("/")[0]] for name in train_names]
    annotations = read_val_annotations(reader.read(f"{prefix}val/val_annotations.txt").decode())
    val_files = sorted(annotations)
    val_names = [f"{prefix}val/images/{file}" for file in val_files]
    val_labels = [index[annotations[file]] for file in val_files]
    return DatasetTensors(
        decode_all(reader.read, train_names), torch.tensor(train_labels, dtype=torch.int64),
        decode_all(reader.read, val_names), torch.tensor(val_labels, dtype=torch.int64),
        len(wnids), _class_names(reader, prefix, wnids),
    )


TINY_IMAGENET = ArchiveSource(
    "tiny-imagenet", "tiny-imagenet-200.zip", "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
    "90528d7ca1a48142e341f4ef8d21d0de", FOLDER, decode_tiny_imagenet,
)


@register_dataset("tiny-imagenet", input_size=(3, 64, 64), num_classes=200, archive=TINY_IMAGENET)
def tiny_imagenet(root: Path, download: bool) -> DatasetTensors:
    """Channel statistics are computed from the decoded training split and cached with it."""
    return load_archived(TINY_IMAGENET, root, download)
