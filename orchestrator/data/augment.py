"""Batched geometric augmentation on float image tensors, on whatever device the batch lives on.

airbench's approach: one op per batch instead of one PIL call per image, so a GPU never waits on
Python. Each image still draws its own parameters, as torchvision's per-image transforms do, but
all randomness comes from an explicit ``torch.Generator`` so a run is reproducible and its
augmentation state can be checkpointed. torchvision's v2 transforms draw one set of parameters
per call (the whole batch would get the same crop), hence these batched versions.

Every op maps a ``(N, C, H, W)`` batch in 0..1 to a batch; ``deterministic`` is its validation
counterpart (a random crop to a smaller size becomes a centre crop; everything else is identity).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import choice, number, pair, probability, spread, whole

PAD_MODES = ("reflect", "constant", "replicate", "circular")  # F.pad's
INTERPOLATIONS = ("nearest", "bilinear")  # grid_sample's, as torchvision's InterpolationMode names them


class Op:
    """A batched random augmentation; subclasses implement ``__call__``."""

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def deterministic(self, images: Tensor) -> Tensor:
        return images


def uniform(n: int, low: float, high: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """``n`` draws from U(low, high) with ``generator``."""
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def fill_value(value: float) -> float:
    """The colour uncovered pixels get, on the 0..1 scale of the images."""
    return number("fill", value, low=0, high=1)


def crop_at(images: Tensor, top: Tensor, left: Tensor, height: int, width: int) -> Tensor:
    """Per-image crops of ``height x width`` at the given offsets, as one gather."""
    n, c = images.shape[:2]
    device = images.device
    rows = (top[:, None] + torch.arange(height, device=device))[:, None, :, None]
    cols = (left[:, None] + torch.arange(width, device=device))[:, None, None, :]
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return images[batch, channel, rows, cols]


def random_crop(images: Tensor, padding: int, generator: torch.Generator, *, mode: str = "reflect",
                size: Optional[int] = None, fill: float = 0.0) -> Tensor:
    """Pad by ``padding`` on each side, then crop each image at its own random offset.

    The crop is ``size`` square, or the input size when ``size`` is None (pad-and-crop-back).
    """
    n, _, h, w = images.shape
    out_h, out_w = (h, w) if size is None else (size, size)
    padded = pad(images, padding, mode, fill)
    if out_h > padded.shape[2] or out_w > padded.shape[3]:
        raise ValueError(f"size {size} is larger than the {h}x{w} px image padded by {padding}; "
                         f"allowed: at most {min(h, w) + 2 * padding}")
    top = torch.randint(0, padded.shape[2] - out_h + 1, (n,), generator=generator, device=images.device)
    left = torch.randint(0, padded.shape[3] - out_w + 1, (n,), generator=generator, device=images.device)
    return crop_at(padded, top, left, out_h, out_w)


def pad(images: Tensor, padding: int, mode: str, fill: float) -> Tensor:
    """``padding`` pixels on each side; reflect (and circular) padding draws on the image itself."""
    h, w = images.shape[2:]
    most = min(h, w) - (1 if mode == "reflect" else 0)
    if mode in ("reflect", "circular") and padding > most:
        raise ValueError(f"padding {padding} with padding_mode {mode} is more than the {h}x{w} px image "
                         f"holds; allowed: at most {most}, or padding_mode constant or replicate")
    sides = (padding,) * 4
    return F.pad(images, sides, mode=mode, value=fill) if mode == "constant" else F.pad(images, sides, mode=mode)


def center_crop(images: Tensor, size: int) -> Tensor:
    h, w = images.shape[2:]
    top, left = (h - size) // 2, (w - size) // 2
    return images[:, :, top : top + size, left : left + size]


class RandomCrop(Op):
    def __init__(self, padding: int = 4, size: Optional[int] = None, padding_mode: str = "reflect",
                 fill: float = 0.0) -> None:
        self.padding = whole("padding", padding)
        self.size = None if size is None else whole("size", size, low=1)
        self.mode, self.fill = choice("padding_mode", padding_mode, PAD_MODES), fill_value(fill)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        return random_crop(images, self.padding, generator, mode=self.mode, size=self.size, fill=self.fill)

    def deterministic(self, images: Tensor) -> Tensor:
        """The centre of the padded image: the centre crop itself up to the image's size, and a crop
        the padding makes possible (``size`` up to the image's plus twice the padding) beyond it."""
        if self.size is None:
            return images
        if self.size > min(images.shape[2:]):
            images = pad(images, self.padding, self.mode, self.fill)
        return center_crop(images, self.size)


def random_flip(images: Tensor, generator: torch.Generator, p: float, dim: int) -> Tensor:
    flip = torch.rand(len(images), generator=generator, device=images.device) < p
    return torch.where(flip[:, None, None, None], images.flip(dim), images)


class HorizontalFlip(Op):
    def __init__(self, p: float = 0.5) -> None:
        self.p = probability("p", p)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        return random_flip(images, generator, self.p, 3)


class VerticalFlip(HorizontalFlip):
    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        return random_flip(images, generator, self.p, 2)


class Cutout(Op):
    """DeVries & Taylor 2017: ``holes`` squares of side ``size`` set to ``fill``, centres anywhere
    in the image (squares are clipped at the border), as albumentations' ``Cutout``."""

    def __init__(self, holes: int = 1, size: int = 16, fill: float = 0.0) -> None:
        self.holes, self.size = whole("holes", holes, low=1), whole("size", size, low=1)
        self.fill = fill_value(fill)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        n, _, h, w = images.shape
        device = images.device
        cy = torch.randint(0, h, (n, self.holes, 1, 1), generator=generator, device=device)
        cx = torch.randint(0, w, (n, self.holes, 1, 1), generator=generator, device=device)
        rows = torch.arange(h, device=device)[:, None]
        cols = torch.arange(w, device=device)[None, :]
        top, left = cy - self.size // 2, cx - self.size // 2
        inside = (rows >= top) & (rows < top + self.size) & (cols >= left) & (cols < left + self.size)
        return images.masked_fill(inside.any(dim=1, keepdim=True), self.fill)


class Affine(Op):
    """torchvision's RandomAffine, batched through ``affine_grid``/``grid_sample``.

    Per image: rotation ~ U(-degrees, degrees), translation up to ``translate`` (fractions of width,
    height), scale ~ U(scale), shear ~ U(-shear, shear) along x (or a (lo, hi) range). Uncovered
    pixels get ``fill``; ``nearest`` interpolation is torchvision's default.
    """

    def __init__(self, degrees: float | Sequence[float] = 0.0, translate: Optional[Sequence[float]] = None,
                 scale: Optional[Sequence[float]] = None, shear: float | Sequence[float] = 0.0,
                 fill: float = 0.0, interpolation: str = "nearest") -> None:
        self.degrees, self.shear = spread("degrees", degrees), spread("shear", shear, low=-89, high=89)
        self.translate = None if translate is None else pair("translate", translate, low=0, high=1, ordered=False)
        self.scale = None if scale is None else pair("scale", scale, low=0, above=True)
        self.fill, self.interpolation = fill_value(fill), choice("interpolation", interpolation, INTERPOLATIONS)

    def _matrices(self, n: int, h: int, w: int, generator: torch.Generator, device: torch.device) -> Tensor:
        # Negated: with rows growing downwards this makes positive angles counter-clockwise, as torchvision.
        angle = -uniform(n, *self.degrees, generator, device) * math.pi / 180
        shear = uniform(n, *self.shear, generator, device) * math.pi / 180
        scale = uniform(n, *self.scale, generator, device) if self.scale else torch.ones(n, device=device)
        tx, ty = torch.zeros(n, device=device), torch.zeros(n, device=device)
        if self.translate:
            tx = uniform(n, -self.translate[0], self.translate[0], generator, device) * 2
            ty = uniform(n, -self.translate[1], self.translate[1], generator, device) * 2
        cos, sin = torch.cos(angle), torch.sin(angle)
        # Forward map in pixel units about the centre: scale * rotation @ x-shear.
        a = torch.stack([cos, cos * torch.tan(shear) - sin, sin, sin * torch.tan(shear) + cos], 1).view(n, 2, 2)
        a = a * scale[:, None, None]
        to_pixels = torch.tensor([w / 2, h / 2], device=device)
        inverse = torch.linalg.inv(a)
        # grid_sample wants output -> input in normalised coordinates: S^-1 A^-1 S, offset -S^-1 A^-1 t.
        linear = inverse * to_pixels[None, None, :] / to_pixels[None, :, None]
        offset = -(linear @ torch.stack([tx, ty], 1)[:, :, None])
        return torch.cat([linear, offset], dim=2)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        n, c, h, w = images.shape
        theta = self._matrices(n, h, w, generator, images.device).to(images.dtype)
        grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
        warped = F.grid_sample(images, grid, mode=self.interpolation, padding_mode="zeros", align_corners=False)
        if self.fill == 0:
            return warped
        covered = F.grid_sample(torch.ones_like(images[:, :1]), grid, mode=self.interpolation,
                                padding_mode="zeros", align_corners=False)
        return warped + (1 - covered) * self.fill


class Rotation(Affine):
    """torchvision's RandomRotation: ``Affine`` with only the rotation."""

    def __init__(self, degrees: float | Sequence[float] = 15.0, fill: float = 0.0,
                 interpolation: str = "nearest") -> None:
        super().__init__(degrees=degrees, fill=fill, interpolation=interpolation)


def resize(images: Tensor, size: int) -> Tensor:
    """Bilinear resize to ``size`` square with antialiasing, as torchvision's ``Resize``."""
    if tuple(images.shape[2:]) == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class RandomResizedCrop(Op):
    """torchvision's RandomResizedCrop for a batch: per-image box sampling (10 tries, then the
    centre crop fallback, as torchvision), resized by ``torchvision.ops.roi_align`` in one call;
    adaptive sampling averages several points per output pixel, standing in for antialiasing."""

    def __init__(self, size: int, scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        self.size = whole("size", size, low=1)
        self.scale = pair("scale", scale, low=0, high=1, above=True)
        self.ratio = pair("ratio", ratio, low=0, above=True)

    def _boxes(self, n: int, h: int, w: int, generator: torch.Generator, device: torch.device) -> Tensor:
        tries = 10
        area = uniform(n * tries, *self.scale, generator, device).view(n, tries) * h * w
        log_ratio = uniform(n * tries, math.log(self.ratio[0]), math.log(self.ratio[1]), generator, device)
        aspect = torch.exp(log_ratio).view(n, tries)
        bw, bh = torch.sqrt(area * aspect).round(), torch.sqrt(area / aspect).round()
        valid = (bw > 0) & (bw <= w) & (bh > 0) & (bh <= h)
        first = valid.float().argmax(dim=1)
        pick = torch.arange(n, device=device)
        bw, bh, ok = bw[pick, first], bh[pick, first], valid.any(dim=1)
        fallback_w, fallback_h = self._fallback(h, w)
        bw, bh = torch.where(ok, bw, fallback_w), torch.where(ok, bh, fallback_h)
        top = (torch.rand(n, generator=generator, device=device) * (h - bh + 1)).floor()
        left = (torch.rand(n, generator=generator, device=device) * (w - bw + 1)).floor()
        top, left = torch.where(ok, top, (h - bh) // 2), torch.where(ok, left, (w - bw) // 2)
        return torch.stack([pick.float(), left, top, left + bw, top + bh], dim=1)

    def _fallback(self, h: int, w: int) -> tuple[float, float]:
        """torchvision's box when no try fits: the whole image, its ratio clamped to ``ratio``."""
        if w / h < self.ratio[0]:
            return float(w), float(round(w / self.ratio[0]))
        if w / h > self.ratio[1]:
            return float(round(h * self.ratio[1])), float(h)
        return float(w), float(h)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        from torchvision.ops import roi_align

        n, _, h, w = images.shape
        boxes = self._boxes(n, h, w, generator, images.device).to(images.dtype)
        return roi_align(images, boxes, output_size=self.size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)

    def deterministic(self, images: Tensor) -> Tensor:
        return resize(images, self.size)
