"""In-memory batches: the whole split lives on one device as uint8; batches are cut from it.

Replaces ``torch.utils.data.DataLoader`` for tensor datasets: no worker processes, no per-image
Python, shuffling with one ``randperm`` per epoch, augmentation as batched tensor ops. Per batch:
gather uint8 -> float 0..1 -> resize (``image_size``) -> augment -> normalise.
"""

from __future__ import annotations

from typing import Iterator, Literal, Optional

import torch
from torch import Tensor

from .augment import Op, resize

AugmentMode = Literal["always", "alternate", "concat", "deterministic"]
AUGMENT_MODES = ("always", "alternate", "concat", "deterministic")


class InMemoryLoader:
    """Yields ``(images, labels)``: normalised float images on ``device`` and int64 labels.

    Args:
        images: ``(N, C, H, W)`` uint8; moved to ``device`` once.
        labels: ``(N,)`` int64.
        batch_size: images per batch.
        mean, std: per-channel statistics on the 0..1 scale used to normalise.
        shuffle: draw a new permutation every epoch (training).
        augment: a batched augmentation (:class:`~.augment.Op`) applied before normalisation.
        augment_mode: ``always``; ``alternate`` (odd epochs augmented, even epochs the originals,
            seed 000's recipe); ``concat`` (every epoch holds each image twice, once original and
            once augmented, seed 004's doubled set); ``deterministic`` (validation: the augmentation's
            deterministic counterpart, e.g. a centre crop where training crops at random).
        image_size: resize every image to this square size first (a pretrained model's input).
        drop_last: skip a final short batch, so BatchNorm never sees a batch of one.
        seed: seeds this loader's own generator; its state is part of a checkpoint.
        channels_last: hand batches over in channels-last memory format.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        *,
        batch_size: int,
        mean: list[float],
        std: list[float],
        device: torch.device | str = "cpu",
        shuffle: bool = False,
        augment: Optional[Op] = None,
        augment_mode: AugmentMode = "always",
        image_size: Optional[int] = None,
        drop_last: bool = False,
        seed: int = 0,
        channels_last: bool = False,
    ) -> None:
        if augment_mode not in AUGMENT_MODES:
            raise ValueError(f"augment_mode must be one of {', '.join(AUGMENT_MODES)}, got {augment_mode!r}")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1)
        self.shuffle = shuffle
        self.augment = augment
        self.augment_mode = augment_mode
        self.image_size = image_size
        self.channels_last = channels_last
        # A split smaller than one batch still yields its one (short) batch.
        self.drop_last = drop_last and self.num_images > batch_size
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.epoch = 0

    @property
    def num_images(self) -> int:
        """Images per epoch (twice the split in ``concat`` mode)."""
        return len(self.labels) * (2 if self.augment_mode == "concat" else 1)

    def __len__(self) -> int:
        full, rest = divmod(self.num_images, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def _order(self) -> Tensor:
        if self.shuffle:
            return torch.randperm(self.num_images, generator=self.generator, device=self.device)
        return torch.arange(self.num_images, device=self.device)

    def _transform(self, images: Tensor, augmented: Optional[Tensor]) -> Tensor:
        """Augment the images where ``augmented`` is True (all when None), else the deterministic form."""
        if self.augment is None:
            return images
        if augmented is None:
            return self.augment(images, self.generator)
        out = self.augment.deterministic(images)
        index = torch.nonzero(augmented).flatten()
        if len(index):
            out = out.clone()
            out[index] = self.augment(images[index], self.generator)
        return out

    def _augmented(self, position: Tensor) -> Optional[Tensor]:
        """Which images of a batch get the random augmentation (None: all of them)."""
        mode = self.augment_mode
        if mode == "always" or (mode == "alternate" and self.epoch % 2 == 1):
            return None
        if mode == "concat":
            return position < len(self.labels)  # the first copy of the split is augmented
        return torch.zeros_like(position, dtype=torch.bool)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        self.epoch += 1
        order = self._order()
        for batch in range(len(self)):
            position = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            index = position % len(self.labels)
            images = self.images[index].float().div_(255)
            if self.image_size is not None:
                images = resize(images, self.image_size)
            images = (self._transform(images, self._augmented(position)) - self.mean) / self.std
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            yield images, self.labels[index]

    def state_dict(self) -> dict[str, Tensor | int]:
        return {"generator": self.generator.get_state(), "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Tensor | int]) -> None:
        self.generator.set_state(state["generator"])
        self.epoch = int(state.get("epoch", 0))
