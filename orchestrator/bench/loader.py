"""Throughput of the in-memory tensor pipeline against a torchvision ``DataLoader`` doing the
same augmentation per image, on the same images and machine, measured in one run.

Both sides produce normalised float batches on the target device; the first batch of each is
a warm-up (worker start-up, allocator) and is not timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..data.loader import InMemoryLoader
from ..data.pipeline import build_augmentation
from ..data.tensors import DatasetTensors

BENCH_AUGMENTATIONS = ("none", "standard", "randaugment", "autoaugment")


@dataclass(frozen=True)
class LoaderBench:
    images: int  # timed images per side
    in_memory: float  # images per second
    torchvision: float

    @property
    def ratio(self) -> float:
        return self.in_memory / max(self.torchvision, 1e-9)


def per_image_transform(augment: str, size: int, mean: list[float], std: list[float]):
    """The torchvision v2 per-image equivalent of preset ``augment``."""
    from torchvision.transforms import v2

    if augment not in BENCH_AUGMENTATIONS:
        raise ValueError(f"bench supports augment {', '.join(BENCH_AUGMENTATIONS)}; got {augment!r}")
    steps = []
    if augment != "none":
        steps += [v2.RandomCrop(size, padding=4, padding_mode="reflect"), v2.RandomHorizontalFlip()]
    steps += {"randaugment": [v2.RandAugment()], "autoaugment": [v2.AutoAugment()]}.get(augment, [])
    return v2.Compose([*steps, v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


class PerImageDataset(Dataset):
    """The uint8 images one at a time through a per-image transform, as a file-backed dataset would."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.images[index]), self.labels[index]


def _time(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], count: int, device: torch.device) -> tuple[int, float]:
    """(images, seconds) over ``count`` batches after one untimed warm-up batch."""
    iterator: Iterator = iter(batches)
    next(iterator)
    images, start = 0, time.perf_counter()
    for _ in range(count):
        batch, _ = next(iterator)
        images += len(batch.to(device, non_blocking=True))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return images, time.perf_counter() - start


def bench_loader(dataset: DatasetTensors, *, batch_size: int = 256, augment: str = "standard",
                 batches: int = 20, workers: int = 2, device: torch.device | str = "cpu") -> LoaderBench:
    """Images/s of both pipelines over ``batches`` batches (the dataset must hold ``batches + 1``)."""
    device = torch.device(device)
    if len(dataset.train_labels) < (batches + 1) * batch_size:
        raise ValueError(f"need {(batches + 1) * batch_size} training images for {batches} timed batches")
    mean, std = dataset.channel_stats()
    in_memory = InMemoryLoader(dataset.train_images, dataset.train_labels, batch_size=batch_size, mean=mean,
                               std=std, device=device, shuffle=True, augment=build_augmentation(augment),
                               drop_last=True)
    transform = per_image_transform(augment, dataset.input_size[-1], mean, std)
    reference = DataLoader(PerImageDataset(dataset.train_images, dataset.train_labels, transform),
                           batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers,
                           pin_memory=device.type == "cuda")
    images, ours = _time(in_memory, batches, device)
    _, theirs = _time(reference, batches, device)
    return LoaderBench(images, images / ours, images / theirs)
