"""Channel attention: Squeeze-and-Excitation and Efficient Channel Attention.

- ``se``: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (reduction 16).
- ``eca``: Wang et al., "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural
  Networks", CVPR 2020. ``k_size`` is the 1-D kernel across channels; omitted, it adapts to the
  channel count as in the paper (gamma=2, b=1).

Both are timm's modules, which match the papers; these builders only map our option names.
"""

from __future__ import annotations

import torch.nn as nn
from timm.layers import EcaModule, SEModule

from .create_attn import register_attn


@register_attn("se")
def se(channels: int, *, reduction: int = 16) -> nn.Module:
    # rd_divisor=1 keeps the paper's channels // reduction instead of timm's rounding to 8.
    return SEModule(channels, rd_ratio=1.0 / reduction, rd_divisor=1)


@register_attn("eca")
def eca(channels: int, *, k_size: int | None = None) -> nn.Module:
    if k_size is not None and (k_size < 1 or k_size % 2 == 0):
        raise ValueError(f"eca k_size must be a positive odd integer, got {k_size}")
    if k_size is None:
        return EcaModule(channels)  # timm derives the paper's adaptive kernel from channels
    return EcaModule(kernel_size=k_size)  # timm ignores kernel_size when channels is given
