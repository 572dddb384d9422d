"""torchvision's RandAugment/AutoAugment ops on a batch of uint8 images, each image with its own
magnitude, as batched tensor ops.

torchvision's ``_apply_op`` takes one magnitude for a whole batch, and its ``equalize`` loops over
images and channels with a host synchronisation per channel (``if step == 0``): on a GPU that loop
was the data path's bottleneck. Each op here computes what torchvision's tensor implementation
computes for one image (same formulas, same float32 arithmetic, same rounding back to uint8), for
every image of the batch at once with a per-image magnitude tensor: a test compares them pixel
for pixel with torchvision applied image by image.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms import functional as TF

BOUND = 255.0  # uint8 images
# CPython's math.radians/math.degrees multiply by these (torch's deg2rad may round differently).
TO_RADIANS, TO_DEGREES = math.pi / 180.0, 180.0 / math.pi


def _per_image(values: Tensor) -> Tensor:
    return values.view(-1, 1, 1, 1)


def _blend(images: Tensor, other: Tensor, ratio: Tensor) -> Tensor:
    """torchvision's ``_blend`` with a per-image ratio: float32 arithmetic, truncated to uint8."""
    ratio64 = _per_image(ratio.double())
    ratio32, rest32 = ratio64.float(), (1.0 - ratio64).float()
    return (ratio32 * images + rest32 * other).clamp(0, BOUND).to(images.dtype)


def _grey(images: Tensor) -> Tensor:
    """torchvision's ``rgb_to_grayscale`` on uint8 (truncated), one channel; a grey image is its own."""
    if images.shape[-3] == 1:
        return images
    r, g, b = images.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(images.dtype).unsqueeze(dim=-3)


def brightness(images: Tensor, magnitude: Tensor) -> Tensor:
    return _blend(images, torch.zeros_like(images), 1.0 + magnitude)


def color(images: Tensor, magnitude: Tensor) -> Tensor:
    if images.shape[-3] == 1:  # torchvision's (and PIL's) saturation leaves a grey image as it is
        return images
    return _blend(images, _grey(images), 1.0 + magnitude)


def contrast(images: Tensor, magnitude: Tensor) -> Tensor:
    mean = torch.mean(_grey(images).float(), dim=(-3, -2, -1), keepdim=True)
    return _blend(images, mean, 1.0 + magnitude)


def sharpness(images: Tensor, magnitude: Tensor) -> Tensor:
    """Blend with the smoothed image (3x3 kernel, centre weight 5), border pixels kept."""
    if images.shape[-1] <= 2 or images.shape[-2] <= 2:
        return images
    kernel = torch.ones((3, 3), dtype=torch.float32, device=images.device)
    kernel[1, 1] = 5.0
    kernel /= kernel.sum()
    channels = images.shape[-3]
    smooth = F.conv2d(images.float(), kernel.expand(channels, 1, 3, 3), groups=channels)
    degenerate = images.clone()
    degenerate[..., 1:-1, 1:-1] = torch.round(smooth).to(images.dtype)
    return _blend(images, degenerate, 1.0 + magnitude)


def posterize(images: Tensor, magnitude: Tensor) -> Tensor:
    """Keep the top ``int(magnitude)`` bits of each value."""
    bits = magnitude.trunc().long()
    mask = (-(2 ** (8 - bits))) & 0xFF
    return images & _per_image(mask.to(torch.uint8))


def solarize(images: Tensor, magnitude: Tensor) -> Tensor:
    return torch.where(images >= _per_image(magnitude), 255 - images, images)


def equalize(images: Tensor, magnitude: Tensor) -> Tensor:
    """Histogram equalisation per image and channel, every histogram at once (torchvision's LUT)."""
    n, c, h, w = images.shape
    flat = images.reshape(n * c, h * w).long()
    hist = torch.zeros(n * c, 256, dtype=torch.long, device=images.device).scatter_add_(1, flat, torch.ones_like(flat))
    # torchvision's step: every pixel but those of the last non-empty bin, // 255.
    last = 255 - torch.flip(hist > 0, dims=[1]).long().argmax(dim=1)
    step = torch.div(h * w - hist.gather(1, last[:, None]), 255, rounding_mode="floor")
    safe = step.clamp(min=1)
    lut = torch.div(torch.cumsum(hist, dim=1) + torch.div(safe, 2, rounding_mode="floor"), safe, rounding_mode="floor")
    lut = F.pad(lut, [1, 0])[:, :-1].clamp(0, 255)
    equalized = lut.gather(1, flat)
    out = torch.where(step == 0, flat, equalized)  # a channel of one or two values stays as it is
    return out.to(torch.uint8).view(n, c, h, w)


def _inverse_matrices(angle: Tensor, translate: tuple[Tensor, Tensor], shear: tuple[Tensor, Tensor],
                      center: tuple[float, float]) -> Tensor:
    """torchvision's ``_get_inverse_affine_matrix`` (scale 1) per image, in float64 as it is."""
    rot, sx, sy = (value.double() * TO_RADIANS for value in (angle, *shear))
    cx, cy = center
    tx, ty = (value.double() for value in translate)
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -torch.cos(rot - sy) * torch.tan(sx) / torch.cos(sy) - torch.sin(rot)
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = -torch.sin(rot - sy) * torch.tan(sx) / torch.cos(sy) + torch.cos(rot)
    m0, m1, m3, m4 = d, -b, -c, a
    m2 = m0 * (-cx - tx) + m1 * (-cy - ty) + cx
    m5 = m3 * (-cx - tx) + m4 * (-cy - ty) + cy
    return torch.stack([m0, m1, m2, m3, m4, m5], dim=1).view(-1, 2, 3)


def _warp(images: Tensor, matrices: Tensor, interpolation: str) -> Tensor:
    """torchvision's ``_gen_affine_grid`` + ``_apply_grid_transform`` (no fill) with one matrix per image."""
    n, _, h, w = images.shape
    theta = matrices.float()
    base = torch.empty(1, h, w, 3, dtype=theta.dtype, device=images.device)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 + 0.5 - 1, steps=w, device=images.device))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 + 0.5 - 1, steps=h, device=images.device).unsqueeze_(-1))
    base[..., 2].fill_(1)
    scale = torch.tensor([0.5 * w, 0.5 * h], dtype=theta.dtype, device=images.device)
    grid = base.view(1, h * w, 3).expand(n, h * w, 3).bmm(theta.transpose(1, 2) / scale).view(n, h, w, 2)
    warped = F.grid_sample(images.float(), grid, mode=interpolation, padding_mode="zeros", align_corners=False)
    return torch.round(warped).to(images.dtype)


def _zero(magnitude: Tensor) -> Tensor:
    return torch.zeros_like(magnitude, dtype=torch.float64)


def _shear(images: Tensor, magnitude: Tensor, interpolation: str, axis: int) -> Tensor:
    degrees = torch.atan(magnitude.double()) * TO_DEGREES
    zero = _zero(magnitude)
    shear = (degrees, zero) if axis == 0 else (zero, degrees)
    h, w = images.shape[-2:]
    matrices = _inverse_matrices(zero, (zero, zero), shear, (-w * 0.5, -h * 0.5))  # about the corner
    return _warp(images, matrices, interpolation)


def _translate(images: Tensor, magnitude: Tensor, interpolation: str, axis: int) -> Tensor:
    pixels, zero = magnitude.double().trunc(), _zero(magnitude)
    translate = (pixels, zero) if axis == 0 else (zero, pixels)
    return _warp(images, _inverse_matrices(zero, translate, (zero, zero), (0.0, 0.0)), interpolation)


def _rotate(images: Tensor, magnitude: Tensor, interpolation: str) -> Tensor:
    zero = _zero(magnitude)
    return _warp(images, _inverse_matrices(-magnitude.double(), (zero, zero), (zero, zero), (0.0, 0.0)), interpolation)


BatchedOp = Callable[[Tensor, Tensor, str], Tensor]  # (uint8 images, per-image magnitudes, interpolation)

OPS: dict[str, BatchedOp] = {
    "Identity": lambda images, m, i: images,
    "ShearX": lambda images, m, i: _shear(images, m, i, 0),
    "ShearY": lambda images, m, i: _shear(images, m, i, 1),
    "TranslateX": lambda images, m, i: _translate(images, m, i, 0),
    "TranslateY": lambda images, m, i: _translate(images, m, i, 1),
    "Rotate": _rotate,
    "Brightness": lambda images, m, i: brightness(images, m),
    "Color": lambda images, m, i: color(images, m),
    "Contrast": lambda images, m, i: contrast(images, m),
    "Sharpness": lambda images, m, i: sharpness(images, m),
    "Posterize": lambda images, m, i: posterize(images, m),
    "Solarize": lambda images, m, i: solarize(images, m),
    "AutoContrast": lambda images, m, i: TF.autocontrast(images),  # per image already, no magnitude
    "Equalize": lambda images, m, i: equalize(images, m),
    "Invert": lambda images, m, i: TF.invert(images),
}


def apply_ops(images: Tensor, op: Tensor, magnitude: Tensor, names: list[str], interpolation: str) -> Tensor:
    """Image ``k`` gets op ``names[op[k]]`` at ``magnitude[k]`` (``op[k] < 0``: none). Images are
    grouped by op with one host read for the whole batch (the group sizes), and each op runs once
    on its group."""
    order = torch.argsort(op, stable=True)
    counts = torch.bincount(op + 1, minlength=len(names) + 1).tolist()
    out, start = images.clone(), counts[0]  # op -1 first: left as they are
    for index, count in enumerate(counts[1:]):
        if count:
            group = order[start:start + count]
            out[group] = OPS[names[index]](images[group], magnitude[group], interpolation)
        start += count
    return out

