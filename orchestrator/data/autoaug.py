"""RandAugment (Cubuk et al. 2020) and AutoAugment (Cubuk et al. 2019) for a batch of images.

torchvision's transforms draw one sub-policy per call, so a batch would share it, and they draw
from the global RNG. Here each image draws its own ops, signs and probabilities from the loader's
generator, exactly as torchvision's ``forward`` draws them per image, and the ops' magnitudes come
from torchvision's own table (``_augmentation_space``). Each op then runs once over the images
that drew it, with each image's own magnitude (``policy_ops``): no per-image Python, one host read
per op slot.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from torchvision.transforms import AutoAugment as TorchAutoAugment
from torchvision.transforms import AutoAugmentPolicy, InterpolationMode
from torchvision.transforms import RandAugment as TorchRandAugment

from .augment import Op
from .checks import choice, whole
from .policy_ops import apply_ops

INTERPOLATIONS = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR}
Plan = list[tuple[Tensor, Tensor]]  # per op slot: (op index per image, -1 for none; magnitude per image)


def _on_uint8(images: Tensor, transform: Callable[[Tensor], Tensor]) -> Tensor:
    """Run ``transform`` on 0..255 uint8 images (posterize and equalize are defined on them)."""
    as_bytes = images.mul(255).round_().to(torch.uint8)
    return transform(as_bytes).float().div_(255)


def _interpolation(name: str) -> InterpolationMode:
    return INTERPOLATIONS[choice("interpolation", name, list(INTERPOLATIONS))]


def _signed(values: Tensor, negate: Tensor) -> Tensor:
    return torch.where(negate, -values, values)


class RandAugment(Op):
    """``num_ops`` ops per image, each uniformly chosen, at bin ``magnitude`` of ``num_magnitude_bins``."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 interpolation: str = "nearest") -> None:
        # The magnitude indexes the bins when the first batch is drawn: a bin past the last would
        # fail there, a negative one would silently count from the strongest. A negative num_ops
        # would apply no op, silently. A fractional or non-numeric count or bin also passes
        # torchvision's constructor and fails only at the first batch, inside a running trial.
        whole("num_ops", num_ops)
        whole("num_magnitude_bins", num_magnitude_bins, low=2)
        if whole("magnitude", magnitude) >= num_magnitude_bins:
            raise ValueError(f"magnitude {magnitude} is not a bin of num_magnitude_bins {num_magnitude_bins}; "
                             f"allowed: 0 to {num_magnitude_bins - 1}")
        self.policy = TorchRandAugment(num_ops, magnitude, num_magnitude_bins, _interpolation(interpolation))

    def names(self, size: tuple[int, int]) -> list[str]:
        return list(self.policy._augmentation_space(self.policy.num_magnitude_bins, size))

    def _table(self, size: tuple[int, int], device: torch.device) -> tuple[Tensor, Tensor]:
        """(magnitude, signed) per op of the space, at the policy's bin."""
        policy = self.policy
        space = policy._augmentation_space(policy.num_magnitude_bins, size)
        values = [float(m[policy.magnitude]) if m.ndim > 0 else 0.0 for m, _ in space.values()]
        signed = [s for _, s in space.values()]
        return (torch.tensor(values, dtype=torch.float64, device=device), torch.tensor(signed, device=device))

    def draw(self, n: int, size: tuple[int, int], generator: torch.Generator, device: torch.device) -> Plan:
        """Per image and slot: a uniform op, then a sign (torchvision's order of draws)."""
        values, signed = self._table(size, device)
        plan = []
        for _ in range(self.policy.num_ops):
            op = torch.randint(len(values), (n,), generator=generator, device=device)
            sign = torch.randint(2, (n,), generator=generator, device=device)
            plan.append((op, _signed(values[op], signed[op] & (sign == 1))))
        return plan

    def apply(self, images: Tensor, plan: Plan) -> Tensor:
        """``images`` (uint8) through the drawn ops, slot after slot."""
        names = self.names(tuple(images.shape[-2:]))
        for op, magnitude in plan:
            images = apply_ops(images, op, magnitude, names, self.policy.interpolation.value)
        return images

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        plan = self.draw(len(images), tuple(images.shape[-2:]), generator, images.device)
        return _on_uint8(images, lambda batch: self.apply(batch, plan))


class AutoAugment(Op):
    """One of the learned sub-policies of ``policy`` (``cifar10``, ``imagenet``, ``svhn``) per image."""

    def __init__(self, policy: str = "cifar10", interpolation: str = "nearest") -> None:
        choices = {p.value: p for p in AutoAugmentPolicy}
        self.policy = TorchAutoAugment(choices[choice("policy", policy, list(choices))], _interpolation(interpolation))
        self.op_names = sorted({step[0] for sub_policy in self.policy.policies for step in sub_policy})

    def _step_table(self, step: int, size: tuple[int, int], device: torch.device) -> tuple[Tensor, ...]:
        """(op index, magnitude, signed, probability) of step ``step`` of every sub-policy."""
        space = self.policy._augmentation_space(10, size)
        ops, values, signed, probs = [], [], [], []
        for sub_policy in self.policy.policies:
            name, prob, magnitude_id = sub_policy[step]
            magnitudes, is_signed = space[name]
            ops.append(self.op_names.index(name))
            values.append(float(magnitudes[magnitude_id]) if magnitude_id is not None else 0.0)
            signed.append(is_signed)
            probs.append(prob)
        return (torch.tensor(ops, device=device), torch.tensor(values, dtype=torch.float64, device=device),
                torch.tensor(signed, device=device), torch.tensor(probs, device=device))

    def draw(self, n: int, size: tuple[int, int], generator: torch.Generator, device: torch.device) -> Plan:
        """Per image: a sub-policy, then per step a probability and a sign (torchvision's draws)."""
        chosen = torch.randint(len(self.policy.policies), (n,), generator=generator, device=device)
        probs = torch.rand(n, 2, generator=generator, device=device)
        signs = torch.randint(2, (n, 2), generator=generator, device=device)
        plan = []
        for step in range(2):
            ops, values, signed, p = self._step_table(step, size, device)
            applied = probs[:, step] <= p[chosen]
            negate = signed[chosen] & (signs[:, step] == 0)  # torchvision negates on sign 0 here
            plan.append((torch.where(applied, ops[chosen], -1), _signed(values[chosen], negate)))
        return plan

    def apply(self, images: Tensor, plan: Plan) -> Tensor:
        for op, magnitude in plan:
            images = apply_ops(images, op, magnitude, self.op_names, self.policy.interpolation.value)
        return images

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        plan = self.draw(len(images), tuple(images.shape[-2:]), generator, images.device)
        return _on_uint8(images, lambda batch: self.apply(batch, plan))
