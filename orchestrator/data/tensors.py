"""A dataset decoded once: uint8 image tensors and int64 labels, train and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class DatasetTensors:
    """Images are ``(N, C, H, W)`` uint8, labels ``(N,)`` int64; nothing else is needed to train."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    num_classes: int
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("train_images", "val_images"):
            images = getattr(self, name)
            if images.dtype != torch.uint8 or images.dim() != 4:
                raise ValueError(f"{name} must be a uint8 (N, C, H, W) tensor, got {images.dtype} {tuple(images.shape)}")
        if len(self.train_images) != len(self.train_labels) or len(self.val_images) != len(self.val_labels):
            raise ValueError("images and labels differ in length")
        if not self.class_names:
            self.class_names = [str(i) for i in range(self.num_classes)]

    @property
    def input_size(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the training images, on the 0..1 scale."""
        pixels = self.train_images.float().div_(255).transpose(0, 1).flatten(1)
        return pixels.mean(1).tolist(), pixels.std(1).clamp_min(1e-3).tolist()

    def subset(self, size: int, *, seed: int = 0) -> DatasetTensors:
        """A seeded random subset of the training split; validation is kept whole."""
        if size >= len(self.train_labels):
            return self
        generator = torch.Generator().manual_seed(seed)
        keep = torch.randperm(len(self.train_labels), generator=generator)[:size]
        return DatasetTensors(
            self.train_images[keep], self.train_labels[keep], self.val_images, self.val_labels,
            self.num_classes, self.class_names,
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(self.__dict__, tmp)
        tmp.replace(path)  # atomic: a killed writer never leaves a half-written cache

    @classmethod
    def load(cls, path: Path) -> DatasetTensors:
        return cls(**torch.load(path, weights_only=True))
