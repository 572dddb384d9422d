"""RandAugment (Cubuk et al. 2020) and AutoAugment (Cubuk et al. 2019) for a batch of images.

torchvision's transforms draw one sub-policy per call, so a batch would share it, and they draw
from the global RNG. Here each image draws its own ops, signs and probabilities from the loader's
generator, exactly as torchvision's ``forward`` draws them per image; images that drew the same
op and magnitude are then transformed together by torchvision's own op table and op application
(``_augmentation_space``, ``_apply_op``), so the ops themselves are torchvision's, batched.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from torchvision.transforms import AutoAugment as TorchAutoAugment
from torchvision.transforms import AutoAugmentPolicy, InterpolationMode
from torchvision.transforms import RandAugment as TorchRandAugment
from torchvision.transforms.autoaugment import _apply_op

from .augment import Op

INTERPOLATIONS = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR}


def _on_uint8(images: Tensor, transform: Callable[[Tensor], Tensor]) -> Tensor:
    """Run ``transform`` on 0..255 uint8 images (posterize and equalize are defined on them)."""
    as_bytes = images.mul(255).round_().to(torch.uint8)
    return transform(as_bytes).float().div_(255)


def _apply_groups(images: Tensor, keys: Tensor, apply: Callable[[Tensor, int], Tensor]) -> Tensor:
    """``apply(images[i], key)`` for each distinct key, over the images carrying it (key -1: none)."""
    out = images.clone()
    for key in torch.unique(keys).tolist():
        if key >= 0:
            index = torch.nonzero(keys == key).flatten()
            out[index] = apply(images[index], key)
    return out


class RandAugment(Op):
    """``num_ops`` ops per image, each uniformly chosen, at bin ``magnitude`` of ``num_magnitude_bins``."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 interpolation: str = "nearest") -> None:
        self.policy = TorchRandAugment(num_ops, magnitude, num_magnitude_bins, INTERPOLATIONS[interpolation])

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        return _on_uint8(images, lambda batch: self._augment(batch, generator))

    def _augment(self, images: Tensor, generator: torch.Generator) -> Tensor:
        policy = self.policy
        space = policy._augmentation_space(policy.num_magnitude_bins, tuple(images.shape[-2:]))
        names = list(space)
        n, device = len(images), images.device
        for _ in range(policy.num_ops):
            op = torch.randint(len(names), (n,), generator=generator, device=device)
            sign = torch.randint(2, (n,), generator=generator, device=device)

            def apply(batch: Tensor, key: int) -> Tensor:
                name = names[key // 2]
                magnitudes, signed = space[name]
                magnitude = float(magnitudes[policy.magnitude]) if magnitudes.ndim > 0 else 0.0
                if signed and key % 2:
                    magnitude = -magnitude
                return _apply_op(batch, name, magnitude, interpolation=policy.interpolation, fill=None)

            images = _apply_groups(images, op * 2 + sign, apply)
        return images


class AutoAugment(Op):
    """One of the learned sub-policies of ``policy`` (``cifar10``, ``imagenet``, ``svhn``) per image."""

    def __init__(self, policy: str = "cifar10", interpolation: str = "nearest") -> None:
        choices = {p.value: p for p in AutoAugmentPolicy}
        if policy not in choices:
            raise ValueError(f"unknown AutoAugment policy {policy!r}; allowed: {', '.join(choices)}")
        self.policy = TorchAutoAugment(choices[policy], INTERPOLATIONS[interpolation])

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        return _on_uint8(images, lambda batch: self._augment(batch, generator))

    def _augment(self, images: Tensor, generator: torch.Generator) -> Tensor:
        policies = self.policy.policies
        space = self.policy._augmentation_space(10, tuple(images.shape[-2:]))
        n, device = len(images), images.device
        chosen = torch.randint(len(policies), (n,), generator=generator, device=device)
        probs = torch.rand(n, 2, generator=generator, device=device)
        signs = torch.randint(2, (n, 2), generator=generator, device=device)
        for step in range(2):
            p = torch.tensor([policy[step][1] for policy in policies], device=device)
            applied = probs[:, step] <= p[chosen]

            def apply(batch: Tensor, key: int, step: int = step) -> Tensor:
                name, _, magnitude_id = policies[key // 2][step]
                magnitudes, signed = space[name]
                magnitude = float(magnitudes[magnitude_id]) if magnitude_id is not None else 0.0
                if signed and key % 2 == 0:  # torchvision negates on sign 0 here
                    magnitude = -magnitude
                return _apply_op(batch, name, magnitude, interpolation=self.policy.interpolation, fill=None)

            keys = torch.where(applied, chosen * 2 + signs[:, step], torch.full_like(chosen, -1))
            images = _apply_groups(images, keys, apply)
        return images
