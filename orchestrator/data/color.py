"""Batched photometric augmentation: colour jitter and Gaussian blur with per-image parameters.

torchvision's ``ColorJitter`` and ``GaussianBlur`` accept a batch but draw one factor for all of
it; these draw one per image (same ranges, same formulas) from the loader's generator.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .augment import Op, uniform
from .checks import is_number, number, pair, refuse, spread

GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


def grey(images: Tensor) -> Tensor:
    weights = torch.tensor(GREY_WEIGHTS, device=images.device, dtype=images.dtype)
    return (images * weights[:, None, None]).sum(dim=1, keepdim=True)


def blend(images: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    """``factor * images + (1 - factor) * other``, per image, clamped to 0..1."""
    factor = factor[:, None, None, None]
    return (factor * images + (1 - factor) * other).clamp_(0, 1)


def rgb_to_hsv(images: Tensor) -> Tensor:
    r, g, b = images.unbind(1)
    value, low = images.max(dim=1).values, images.min(dim=1).values
    chroma = value - low
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(value == r, ((g - b) / safe) % 6,
                      torch.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = torch.where(chroma > 0, hue / 6, torch.zeros_like(hue))
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, torch.ones_like(value)), value)
    return torch.stack([hue, saturation, value], dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """The closed form ``v - v s max(0, min(k, 4 - k, 1))``, ``k = (n + 6h) mod 6`` per channel."""
    hue, saturation, value = (t.unsqueeze(1) for t in hsv.unbind(1))
    n = torch.tensor([5.0, 3.0, 1.0], device=hsv.device, dtype=hsv.dtype)[None, :, None, None]
    k = (n + hue * 6) % 6
    return value - value * saturation * torch.minimum(k, 4 - k).clamp(0, 1)


def shift_hue(images: Tensor, shift: Tensor) -> Tensor:
    hsv = rgb_to_hsv(images)
    hsv[:, 0] = (hsv[:, 0] + shift[:, None, None]) % 1.0
    return hsv_to_rgb(hsv)


ADJUSTMENTS = {
    "brightness": lambda images, f: blend(images, torch.zeros_like(images), f),
    "contrast": lambda images, f: blend(images, grey(images).mean(dim=(1, 2, 3), keepdim=True), f),
    "saturation": lambda images, f: blend(images, grey(images), f),
    "hue": shift_hue,
}


class ColorJitter(Op):
    """torchvision's ColorJitter: a number ``v`` draws factors from [max(0, 1 - v), 1 + v] (hue from
    [-v, v]), a pair is the range itself; each image applies the four in its own random order."""

    def __init__(self, brightness: float | Sequence[float] = 0.0, contrast: float | Sequence[float] = 0.0,
                 saturation: float | Sequence[float] = 0.0, hue: float | Sequence[float] = 0.0) -> None:
        # A factor of 1 (hue: a shift of 0) leaves the images as they are: such an adjustment is left out.
        self.ranges: dict[str, tuple[float, float]] = {}
        for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            factor_range = spread(name, value, center=1.0, low=0.0, clip=True)
            if factor_range != (1.0, 1.0):
                self.ranges[name] = factor_range
        hue_range = spread("hue", hue, low=-0.5, high=0.5)
        if hue_range != (0.0, 0.0):
            self.ranges["hue"] = hue_range

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        n, device = len(images), images.device
        names = list(self.ranges)
        factors = [uniform(n, *self.ranges[name], generator, device) for name in names]
        order = torch.rand(n, len(names), generator=generator, device=device).argsort(dim=1)
        images = images.clone()
        for slot in range(len(names)):
            # Images grouped by their adjustment in this slot: one host read (the group sizes) per slot.
            grouped = torch.argsort(order[:, slot], stable=True)
            counts = torch.bincount(order[:, slot], minlength=len(names)).tolist()
            start = 0
            for name, factor, count in zip(names, factors, counts):
                index = grouped[start:start + count]
                if count:
                    images[index] = ADJUSTMENTS[name](images[index], factor[index])
                start += count
        return images


class GaussianBlur(Op):
    """torchvision's GaussianBlur: a ``kernel_size`` kernel, sigma ~ U(sigma) per image, reflect
    padding; applied as two separable grouped convolutions over the whole batch."""

    def __init__(self, kernel_size: int = 3, sigma: float | Sequence[float] = (0.1, 2.0)) -> None:
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise refuse("kernel_size", kernel_size, "an odd whole number 1 or more")
        # As torchvision: a number is a fixed sigma, a pair the range each image draws its own from.
        self.kernel_size = kernel_size
        if is_number(sigma):
            sigma = (number("sigma", sigma, low=0, above=True),) * 2
        self.sigma = pair("sigma", sigma, low=0, above=True, alone="a number above 0, or ")

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        n, c, h, w = images.shape
        if self.kernel_size > min(h, w) * 2 - 1:  # reflect padding of more than the image holds
            raise ValueError(f"kernel_size {self.kernel_size} is larger than the {h}x{w} px image allows; "
                             f"allowed: at most {min(h, w) * 2 - 1}")
        sigma = uniform(n, *self.sigma, generator, images.device)
        half = (self.kernel_size - 1) / 2
        x = torch.linspace(-half, half, self.kernel_size, device=images.device)
        kernel = torch.exp(-0.5 * (x[None, :] / sigma[:, None]) ** 2)
        kernel = (kernel / kernel.sum(dim=1, keepdim=True)).to(images.dtype).repeat_interleave(c, dim=0)
        pad = self.kernel_size // 2
        flat = F.pad(images.reshape(1, n * c, h, w), (pad, pad, pad, pad), mode="reflect")
        flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * c)
        flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * c)
        return flat.view(n, c, h, w)
