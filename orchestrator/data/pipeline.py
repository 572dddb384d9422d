"""Augmentation by name: ``data.augment`` is a preset name or a list of ops with options.

A list item is an op name (``hflip``) or a mapping (``{name: randaugment, num_ops: 2,
magnitude: 10}``); ``random_apply`` and ``random_choice`` take a nested ``transforms`` list, as
torchvision's ``RandomApply``/``RandomChoice``. A preset name other than ``none`` and ``standard``
means the standard crop + flip followed by that op with its defaults (``augment: cutout``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..errors import OptionError
from ..options import check_options, lookup_in
from .augment import Affine, Cutout, HorizontalFlip, Op, RandomCrop, RandomResizedCrop, Rotation, VerticalFlip
from .autoaug import AutoAugment, RandAugment
from .checks import probability
from .color import ColorJitter, GaussianBlur

AugmentItem = str | dict[str, Any]


class Compose(Op):
    """Ops in sequence; its deterministic form chains theirs (validation's matching transform)."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = list(ops)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        for op in self.ops:
            images = op(images, generator)
        return images

    def deterministic(self, images: Tensor) -> Tensor:
        for op in self.ops:
            images = op.deterministic(images)
        return images


def _same_size(op: Op, images: Tensor, generator: torch.Generator) -> Tensor:
    """Some images get ``op`` and some do not, so it must keep their size (they share one batch)."""
    out = op(images, generator)
    if out.shape != images.shape:
        raise ValueError(f"transforms turn {'x'.join(map(str, images.shape[2:]))} px images into "
                         f"{'x'.join(map(str, out.shape[2:]))} px; allowed: ops that keep the image size "
                         "(a crop or resize to another size goes outside, before or after)")
    return out


class RandomApply(Op):
    """torchvision's RandomApply per image: each image gets all of ``transforms`` with probability ``p``."""

    def __init__(self, transforms: Sequence[Op], p: float = 0.5) -> None:
        self.ops, self.p = Compose(transforms), probability("p", p)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        chosen = torch.rand(len(images), generator=generator, device=images.device) < self.p
        index = torch.nonzero(chosen).flatten()
        images = images.clone()
        if len(index):
            images[index] = _same_size(self.ops, images[index], generator)
        return images


class RandomChoice(Op):
    """torchvision's RandomChoice per image: each image gets one of ``transforms``, uniformly."""

    def __init__(self, transforms: Sequence[Op]) -> None:
        self.ops = list(transforms)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        pick = torch.randint(len(self.ops), (len(images),), generator=generator, device=images.device)
        images = images.clone()
        for k, op in enumerate(self.ops):
            index = torch.nonzero(pick == k).flatten()
            if len(index):
                images[index] = _same_size(op, images[index], generator)
        return images


# name -> builder(**options); builders raise ValueError for a bad value.
OPS: dict[str, Callable[..., Op]] = {
    "random_crop": RandomCrop,
    "hflip": HorizontalFlip,
    "vflip": VerticalFlip,
    "random_resized_crop": RandomResizedCrop,
    "cutout": Cutout,
    "colorjitter": ColorJitter,
    "rotation": Rotation,
    "affine": Affine,
    "gaussian_blur": GaussianBlur,
    "randaugment": RandAugment,
    "autoaugment": AutoAugment,
    "random_apply": RandomApply,
    "random_choice": RandomChoice,
}
STANDARD: list[AugmentItem] = [{"name": "random_crop", "padding": 4}, "hflip"]
# Defaults for ops used as a preset (``augment: colorjitter``) where the op's own would do nothing.
PRESET_OPTIONS: dict[str, dict[str, Any]] = {
    "colorjitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4},
    "affine": {"degrees": 15, "translate": [0.1, 0.1], "scale": [0.9, 1.1], "shear": 10},
}
COMPOSITES = ("random_apply", "random_choice")
PRESETS = ("none", "standard", "randaugment", "autoaugment", "cutout", "colorjitter", "vflip", "rotation",
           "affine", "gaussian_blur")

op_options = lookup_in("augmentation", OPS)


def expand_preset(name: str) -> list[AugmentItem]:
    """The op list a preset name stands for."""
    if name not in PRESETS:
        raise OptionError("", f"unknown augmentation preset {name!r}; allowed: {', '.join(PRESETS)} "
                              "(or a list of ops: " + ", ".join(OPS) + ")")
    if name == "none":
        return []
    if name == "standard":
        return list(STANDARD)
    return [*STANDARD, {"name": name, **PRESET_OPTIONS.get(name, {})}]


def _build_item(item: AugmentItem, where: str) -> Op:
    if not isinstance(item, (str, dict)):
        raise OptionError(where, f"an augmentation is an op name or a mapping, e.g. hflip or {{name: cutout, "
                                 f"size: 16}}; allowed names: {', '.join(OPS)} (got {item!r})")
    entry = {"name": item} if isinstance(item, str) else dict(item)
    if "name" not in entry:
        raise OptionError(where, "an augmentation needs a name, e.g. {name: cutout, size: 16}")
    name = entry.pop("name")
    # Names only: each op checks its own values, naming what it allows (data/checks.py).
    check_options("augmentation", str(name), op_options, entry, key=where, name_key=f"{where}.name", types=False)
    if name in COMPOSITES:
        children = entry.get("transforms")
        if not isinstance(children, list) or not children:
            raise OptionError(f"{where}.transforms", f"{name} takes a non-empty list of transforms")
        entry["transforms"] = [_build_item(c, f"{where}.transforms.{i}") for i, c in enumerate(children)]
    try:
        return OPS[name](**entry)
    except (TypeError, ValueError) as exc:
        raise OptionError(where, f"augmentation {name}: {exc}") from None


def try_augmentation(augment: Compose, size: int, channels: int = 3) -> None:
    """Run ``augment`` (deterministic and random forms) once on 2 images of ``size`` px, each op in
    turn, so that what its constructor cannot know (a crop larger than the padded image, an op
    inside random_choice that changes the size) is refused when the spec is read: raises
    :class:`OptionError` naming the op's index."""
    names = {builder: name for name, builder in OPS.items()}
    images = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 images gain nothing from threads, and lose much on a busy machine
    try:
        for index, op in enumerate(augment.ops):
            try:
                op.deterministic(images)  # validation's form
                images = op(images, generator)
            except (TypeError, ValueError, RuntimeError, IndexError) as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise OptionError(str(index), f"augmentation {names[type(op)]}: {first_line}") from None
    finally:
        torch.set_num_threads(threads)


def build_augmentation(augment: str | Sequence[AugmentItem]) -> Compose:
    """A preset name or an op list -> one :class:`Compose`; bad entries raise :class:`OptionError`."""
    items = expand_preset(augment) if isinstance(augment, str) else list(augment)
    return Compose([_build_item(item, str(i)) for i, item in enumerate(items)])
