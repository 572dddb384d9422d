"""A procedural, learnable dataset of any size: for tests and benchmarks, never for results.

Each class is a fixed random low-frequency colour pattern; each image is its class pattern, shifted
by a few pixels, scaled in contrast and covered in noise. Small CNNs learn it in a few epochs,
so a test can tell a training loop that learns from one that does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import torch.nn.functional as F

from .augment import random_crop
from pydantic import Field

from .registry import Count, ImageSide, Seed, register_dataset
from .tensors import DatasetTensors


def _make_split(prototypes: torch.Tensor, size: int, noise: float, generator: torch.Generator):
    num_classes, _, height, width = prototypes.shape
    labels = torch.arange(size) % num_classes
    labels = labels[torch.randperm(size, generator=generator)]
    images = random_crop(prototypes[labels], 3, generator, mode="circular")  # shifted copies
    contrast = 0.6 + 0.8 * torch.rand(size, 1, 1, 1, generator=generator)
    images = 0.5 + contrast * (images - 0.5) + noise * torch.randn(images.shape, generator=generator)
    return (images.clamp(0, 1) * 255).round().to(torch.uint8), labels


@register_dataset("synthetic")
def synthetic(
    root: Path,
    download: bool,
    *,
    num_classes: Count = 10,
    train_size: Count = 1024,
    val_size: Count = 256,
    image_size: ImageSide = 32,
    in_chans: Count = 3,
    noise: Annotated[float, Field(ge=0)] = 0.25,
    seed: Seed = 0,
) -> DatasetTensors:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(num_classes, in_chans, 4, 4, generator=generator)
    prototypes = F.interpolate(coarse, size=(image_size, image_size), mode="bicubic", align_corners=False)
    train_images, train_labels = _make_split(prototypes, train_size, noise, generator)
    val_images, val_labels = _make_split(prototypes, val_size, noise, generator)
    return DatasetTensors(train_images, train_labels, val_images, val_labels, num_classes)
