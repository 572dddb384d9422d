"""Selective Kernel convolution: Li et al., "Selective Kernel Networks", CVPR 2019.

Split: parallel grouped 3x3 and 5x5 branches (the 5x5 as a dilated 3x3, as in the paper). Fuse:
sum, global average pool, FC to ``max(channels / reduction, min_channels)`` (the paper's r=16,
L=32) with BN and ReLU. Select: a softmax across branches weights each channel's kernel.

timm's ``SelectiveKernel`` is the paper's unit when ``split_input=False`` (its default instead
splits the input channels across the branches to save parameters, a timm modification).
"""

from __future__ import annotations

import torch.nn as nn
from timm.layers import SelectiveKernel

from .create_attn import register_attn
from .create_conv import register_conv


@register_conv("sk")
def sk_conv(
    in_chs: int,
    out_chs: int,
    stride: int = 1,
    *,
    groups: int = 32,
    kernels: tuple[int, ...] = (3, 5),
    reduction: int = 16,
    min_channels: int = 32,
) -> nn.Module:
    if in_chs % groups or out_chs % groups:
        raise ValueError(f"sk groups={groups} must divide the channels ({in_chs} -> {out_chs})")
    return SelectiveKernel(
        in_chs,
        out_chs,
        kernel_size=list(kernels),
        stride=stride,
        groups=groups,
        rd_channels=max(out_chs // reduction, min_channels),
        keep_3x3=True,
        split_input=False,
    )


@register_attn("sk")
def sk(
    channels: int,
    *,
    groups: int = 32,
    kernels: tuple[int, ...] = (3, 5),
    reduction: int = 16,
    min_channels: int = 32,
) -> nn.Module:
    """The SK convolution as a shape-keeping block inserted between layers (seed 001's use)."""
    return sk_conv(
        channels, channels, 1, groups=groups, kernels=kernels, reduction=reduction, min_channels=min_channels
    )
