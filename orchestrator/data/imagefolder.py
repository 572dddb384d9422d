"""Any ``root/<class>/<image>`` tree (torchvision's ImageFolder layout), decoded once and cached.

Two layouts: ``path/train/<class>/...`` with ``path/val/<class>/...`` (a given validation split),
or ``path/<class>/...`` split here into train and validation, stratified and seeded. Files are
listed with torchvision's own ImageFolder helpers, so the class order matches ``ImageFolder``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Optional

import torch
from pydantic import Field

from .archive import DatasetNotFoundError
from .images import decode_all
from .registry import ImageSide, Seed, register_dataset
from .splits import stratified_split
from .tensors import DatasetTensors


def _list(folder: Path, classes: Optional[list[str]] = None) -> tuple[list[str], list[str], list[int]]:
    """(class names, image paths, labels) of one ImageFolder tree."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    if classes is None:
        classes, index = find_classes(str(folder))
    else:
        index = {name: i for i, name in enumerate(classes)}
    samples = make_dataset(str(folder), index, extensions=IMG_EXTENSIONS, allow_empty=True)
    return classes, [path for path, _ in samples], [label for _, label in samples]


def _decode(paths: list[str], image_size: Optional[int]) -> torch.Tensor:
    return decode_all(lambda path: Path(path).read_bytes(), paths, image_size)


def decode_imagefolder(path: Path, val_fraction: float, split_seed: int,
                       image_size: Optional[int]) -> DatasetTensors:
    if (path / "train").is_dir() and (path / "val").is_dir():
        classes, train_paths, train_labels = _list(path / "train")
        _, val_paths, val_labels = _list(path / "val", classes)
        train, val = _decode(train_paths, image_size), _decode(val_paths, image_size)
        labels = torch.tensor(train_labels), torch.tensor(val_labels)
        return DatasetTensors(train, labels[0], val, labels[1], len(classes), classes)
    classes, paths, labels = _list(path)
    images, targets = _decode(paths, image_size), torch.tensor(labels)
    val_index, train_index = stratified_split(targets, val_fraction, seed=split_seed)
    return DatasetTensors(images[train_index], targets[train_index], images[val_index],
                          targets[val_index], len(classes), classes)


@register_dataset("imagefolder")
def imagefolder(
    root: Path,
    download: bool,
    *,
    path: str,
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1,
    split_seed: Seed = 0,
    image_size: Optional[ImageSide] = None,
) -> DatasetTensors:
    """Images under ``path``; ``image_size`` resizes (shorter side + centre crop) when sizes differ.

    ``val_fraction``/``split_seed`` only apply to a tree without its own ``train``/``val`` folders.
    The cache is keyed by the resolved path and these options.
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise DatasetNotFoundError(f"imagefolder: {folder} is not a folder of <class>/<image> files")
    identity = json.dumps([str(folder), val_fraction, split_seed, image_size])
    cache = root / f"imagefolder-{hashlib.sha1(identity.encode()).hexdigest()[:12]}.pt"
    if cache.is_file():
        return DatasetTensors.load(cache)
    tensors = decode_imagefolder(folder, val_fraction, split_seed, image_size)
    tensors.save(cache)
    return tensors
