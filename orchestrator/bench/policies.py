"""Per-image augmentation policies (RandAugment, AutoAugment) batched on the device against the
same policy from torchvision applied image by image, on the same images and device.

The batched side is what the in-memory loader runs (``data/autoaug.py``): each image draws its own
ops and magnitudes, each op runs once over the images that drew it. The per-image side is
torchvision's transform called once per uint8 image, as a per-image dataset would, here on the
device itself (no worker processes, no transfer): only the batching differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torchvision import transforms

from ..data.pipeline import build_augmentation
from .workload import synchronize

POLICIES = {"randaugment": transforms.RandAugment, "autoaugment": transforms.AutoAugment}


@dataclass(frozen=True)
class PolicyRow:
    policy: str
    batched: float  # images/s
    per_image: float

    @property
    def ratio(self) -> float:
        return self.batched / self.per_image if self.per_image else 0.0


def _rate(run, images: int, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    run()
    synchronize(device)
    return images / max(time.perf_counter() - start, 1e-9)


def time_policy(name: str, images: torch.Tensor, *, batch_size: int, batches: int) -> PolicyRow:
    """Images/s of ``name`` batched over ``batches`` batches and per image over one batch, each
    after one untimed warm-up batch. ``images``: uint8, on the device measured."""
    device = images.device
    batched = build_augmentation([name])
    generator = torch.Generator(device=device).manual_seed(0)
    floats = images[:batch_size].float().div(255)

    def run_batched() -> None:
        for _ in range(batches):
            batched(floats, generator)

    per_image = POLICIES[name]()

    def run_per_image() -> None:
        for image in images[:batch_size]:
            per_image(image)

    batched(floats, generator)
    for image in images[:2]:
        per_image(image)
    return PolicyRow(name, _rate(run_batched, batches * batch_size, device),
                     _rate(run_per_image, batch_size, device))


def measure_policies(images: torch.Tensor, *, batch_size: int, batches: int) -> list[PolicyRow]:
    return [time_policy(name, images, batch_size=batch_size, batches=batches) for name in POLICIES]
