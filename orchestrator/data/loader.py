"""In-memory batches: the whole split lives on one device as uint8; batches are cut from it.

Replaces ``torch.utils.data.DataLoader`` for tensor datasets: no worker processes, no per-image
Python, shuffling with one ``randperm`` per epoch, augmentation as batched tensor ops.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

import torch

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class InMemoryLoader:
    """Yields ``(images, labels)``: normalised float images on ``device`` and int64 labels.

    Args:
        images: ``(N, C, H, W)`` uint8; moved to ``device`` once.
        labels: ``(N,)`` int64.
        batch_size: images per batch.
        mean, std: per-channel statistics on the 0..1 scale used to normalise.
        shuffle: draw a new permutation every epoch (training).
        augment: a batched augmentation applied after normalisation, or None.
        drop_last: skip a final short batch, so BatchNorm never sees a batch of one.
        seed: seeds this loader's own generator; its state is part of a checkpoint.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        mean: list[float],
        std: list[float],
        device: torch.device | str = "cpu",
        shuffle: bool = False,
        augment: Optional[Augmentation] = None,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1)
        self.shuffle = shuffle
        self.augment = augment
        # A split smaller than one batch still yields its one (short) batch.
        self.drop_last = drop_last and len(self.labels) > batch_size
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.labels), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    @property
    def num_images(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        count = len(self.labels)
        if self.shuffle:
            order = torch.randperm(count, generator=self.generator, device=self.device)
        else:
            order = torch.arange(count, device=self.device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            images = (self.images[index].float().div_(255) - self.mean) / self.std
            if self.augment is not None:
                images = self.augment(images, self.generator)
            yield images, self.labels[index]

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["generator"])
