"""Batched augmentation on image tensors, on whatever device the batch lives on.

airbench's approach: one op per batch instead of one PIL call per image, so a GPU never waits on
Python. All randomness comes from an explicit ``torch.Generator`` so a run is reproducible and
its augmentation state can be checkpointed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(
    images: torch.Tensor, padding: int, generator: torch.Generator, *, mode: str = "reflect"
) -> torch.Tensor:
    """Pad by ``padding`` on each side, then crop each image back at its own random offset."""
    n, c, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding), mode=mode)
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=images.device)
    rows = (offsets[0, :, None] + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (offsets[1, :, None] + torch.arange(w, device=images.device))[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_hflip(images: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(len(images), generator=generator, device=images.device) < p
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def standard(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The CIFAR recipe of He et al. 2016: 4-pixel padded random crop and horizontal flip."""
    return random_hflip(random_crop(images, 4, generator), generator)


AUGMENTATIONS = {"none": None, "standard": standard}
