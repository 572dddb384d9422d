"""Channel attention: Squeeze-and-Excitation, Efficient Channel Attention and CBAM.

- ``se``: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (reduction 16).
- ``eca``: Wang et al., "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural
  Networks", CVPR 2020. ``k_size`` is the 1-D kernel across channels; omitted, it adapts to the
  channel count as in the paper (gamma=2, b=1).
- ``cbam``: Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018: channel attention
  (avg- and max-pooled descriptors through one shared MLP, summed) then spatial attention (a 7x7
  conv over the channel-wise mean and max), as the seed-002 report describes it.

All three are timm's modules, which match the papers; these builders only map our option names.
"""

from __future__ import annotations

import torch.nn as nn
from timm.layers import EcaModule, SEModule
from timm.layers.cbam import CbamModule

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


@register_attn("cbam")
def cbam(channels: int, *, reduction: int = 16, kernel_size: int = 7) -> nn.Module:
    # mlp_bias: the paper's shared MLP is two biased linear layers; timm defaults to no bias.
    return CbamModule(
        channels, rd_ratio=1.0 / reduction, rd_divisor=1, spatial_kernel_size=kernel_size, mlp_bias=True
    )
