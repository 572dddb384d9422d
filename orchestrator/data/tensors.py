"""A dataset decoded once: uint8 image tensors and int64 labels, train and validation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch

from .splits import stratified_split

# Images converted to float at a time when computing statistics: bounds memory on large sets.
STATS_CHUNK = 4096


@dataclass
class LabelSet:
    """An alternative labelling of the same images (CIFAR-100's 20 coarse superclasses)."""

    train_labels: torch.Tensor
    val_labels: torch.Tensor
    class_names: list[str]


@dataclass
class DatasetTensors:
    """Images are ``(N, C, H, W)`` uint8, labels ``(N,)`` int64; nothing else is needed to train.

    ``mean``/``std`` are per-channel statistics of the full training split on the 0..1 scale,
    stored so that a subset or a labelled fraction is normalised like the whole dataset.
    ``test_*`` is set only by :meth:`hold_out`: the dataset's own validation split, kept apart
    while a fraction of the training images validates instead.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    mean: Optional[list[float]] = None
    std: Optional[list[float]] = None
    label_sets: dict[str, LabelSet] = field(default_factory=dict)
    test_images: Optional[torch.Tensor] = None
    test_labels: Optional[torch.Tensor] = None

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
        """Per-channel mean and std of the training images, on the 0..1 scale (computed once)."""
        if self.mean is None or self.std is None:
            total = torch.zeros(self.input_size[0], dtype=torch.float64)
            squares = torch.zeros_like(total)
            for chunk in self.train_images.split(STATS_CHUNK):
                pixels = chunk.double().div_(255).transpose(0, 1).flatten(1)
                total += pixels.sum(1)
                squares += pixels.square().sum(1)
            count = self.train_images[:, 0].numel()
            mean = total / count
            std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1e-3)
            self.mean, self.std = mean.tolist(), std.tolist()
        return list(self.mean), list(self.std)

    def select_train(self, index: torch.Tensor) -> DatasetTensors:
        """The same dataset with only the training images at ``index`` (statistics kept)."""
        self.channel_stats()
        sets = {
            name: replace(labels, train_labels=labels.train_labels[index])
            for name, labels in self.label_sets.items()
        }
        return replace(self, train_images=self.train_images[index],
                       train_labels=self.train_labels[index], label_sets=sets)

    def subset(self, size: int, *, seed: int = 0) -> DatasetTensors:
        """A seeded random subset of the training split; validation is kept whole."""
        if size >= len(self.train_labels):
            return self
        generator = torch.Generator().manual_seed(seed)
        return self.select_train(torch.randperm(len(self.train_labels), generator=generator)[:size])

    def hold_out(self, fraction: float, *, seed: int) -> DatasetTensors:
        """Validate on a stratified, seeded ``fraction`` of the training images instead of the
        validation split, which becomes the test split: the best epoch is then chosen on images
        that no reported number is measured on. The same ``seed`` holds out the same images in
        every trial, so configurations are compared on one split."""
        held, kept = stratified_split(self.train_labels, fraction, seed=seed)
        train = self.select_train(kept)
        return replace(train, val_images=self.train_images[held], val_labels=self.train_labels[held],
                       test_images=self.val_images, test_labels=self.val_labels, label_sets={})

    def relabel(self, name: str) -> DatasetTensors:
        """The same images under the alternative labelling ``name`` (e.g. ``coarse``)."""
        if name not in self.label_sets:
            raise KeyError(f"no label set {name!r}; available: {', '.join(self.label_sets) or 'none'} "
                           "(a cache written before label sets existed: run `orchestrate data prepare` again)")
        labels = self.label_sets[name]
        return replace(self, train_labels=labels.train_labels, val_labels=labels.val_labels,
                       num_classes=len(labels.class_names), class_names=labels.class_names,
                       label_sets={})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.channel_stats()
        state = dict(self.__dict__, label_sets={k: v.__dict__ for k, v in self.label_sets.items()})
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)  # atomic: a killed writer never leaves a half-written cache

    @classmethod
    def load(cls, path: Path) -> DatasetTensors:
        state = torch.load(path, weights_only=True)
        state["label_sets"] = {k: LabelSet(**v) for k, v in state.get("label_sets", {}).items()}
        return cls(**state)
