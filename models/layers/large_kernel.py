"""Large-kernel convolutional attention from the VAN / SegNeXt family.

- ``lka``: Large Kernel Attention, Guo et al., "Visual Attention Network", CVMJ 2023. A K x K
  convolution decomposed into a (2d-1) x (2d-1) depthwise conv, a ceil(K/d) x ceil(K/d)
  depthwise conv with dilation d, and a 1x1 conv; the result gates the input (K=21, d=3 gives the
  paper's 5x5 + 7x7-dilated-3).
- ``msca``: Multi-Scale Convolutional Attention, Guo et al., "SegNeXt: Rethinking Convolutional
  Attention Design for Semantic Segmentation", NeurIPS 2022. A 5x5 depthwise conv, then three
  branches of depthwise strip convolutions (1 x k then k x 1, k = 7, 11, 21) summed with it, a
  1x1 conv, and the result gates the input.

Hand-written: timm has neither VAN nor SegNeXt.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .create_attn import register_attn


def _depthwise(channels: int, kernel: tuple[int, int], dilation: int = 1) -> nn.Conv2d:
    padding = (dilation * (kernel[0] - 1) // 2, dilation * (kernel[1] - 1) // 2)
    return nn.Conv2d(channels, channels, kernel, padding=padding, dilation=dilation, groups=channels)


@register_attn("lka")
class LargeKernelAttention(nn.Module):
    def __init__(self, channels: int, *, kernel_size: int = 21, dilation: int = 3) -> None:
        super().__init__()
        local = 2 * dilation - 1
        spread = math.ceil(kernel_size / dilation) | 1  # odd, so the map keeps its size
        self.conv0 = _depthwise(channels, (local, local))
        self.conv_spatial = _depthwise(channels, (spread, spread), dilation)
        self.conv1 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv1(self.conv_spatial(self.conv0(x)))


@register_attn("msca")
class MultiScaleConvAttention(nn.Module):
    def __init__(self, channels: int, *, kernel_sizes: tuple[int, ...] = (7, 11, 21)) -> None:
        super().__init__()
        self.conv0 = _depthwise(channels, (5, 5))
        self.branches = nn.ModuleList(
            nn.Sequential(_depthwise(channels, (1, k)), _depthwise(channels, (k, 1))) for k in kernel_sizes
        )
        self.conv3 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.conv0(x)
        attn = attn + sum(branch(attn) for branch in self.branches)
        return x * self.conv3(attn)
