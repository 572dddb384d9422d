"""Res2Net hierarchical split convolution: Gao et al., "Res2Net: A New Multi-scale Backbone
Architecture", TPAMI 2021.

The channels are split into ``scale`` groups x_1..x_s. Each group but the last passes a 3x3
conv (+BN+ReLU) K_i whose input also receives the previous group's output,
y_i = K_i(x_i + y_{i-1}), so later groups see ever larger receptive fields; the last group is
passed through unchanged (the paper's x_1, placed last as in the authors' code).

The first block of every stage (``first``; strided blocks always are) is the exception in the
authors' code and in timm's ``Bottle2neck`` (``is_first``): its groups are convolved
independently and the pass-through group is 3x3 average-pooled, also in the stride-1 first
stage, where the block's input still has the stem's channel count.

Hand-written: timm implements Res2Net only as a whole bottleneck (``Bottle2neck``), not as a conv
block that our residual blocks can use in place of their 3x3 conv.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .create_conv import register_conv


class Res2Conv(nn.Module):
    def __init__(self, channels: int, stride: int = 1, *, scale: int = 4, groups: int = 1, first: bool = False) -> None:
        super().__init__()
        if scale < 2 or channels % scale:
            raise ValueError(f"res2 scale={scale} must be >= 2 and divide the {channels} channels")
        width = channels // scale
        self.width = width
        self.hierarchical = not first and stride == 1
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
            for _ in range(scale - 1)
        )
        self.pool = nn.Identity() if self.hierarchical else nn.AvgPool2d(3, stride, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = torch.split(x, self.width, dim=1)
        outputs: list[torch.Tensor] = []
        for index, conv in enumerate(self.convs):
            part = splits[index]
            if self.hierarchical and outputs:
                part = part + outputs[-1]
            outputs.append(conv(part))
        outputs.append(self.pool(splits[-1]))
        return torch.cat(outputs, dim=1)


@register_conv("res2")
def res2(
    in_chs: int, out_chs: int, stride: int = 1, *, scale: int = 4, groups: int = 1, first: bool = False
) -> nn.Module:
    if in_chs != out_chs:
        raise ValueError(f"res2 keeps the channel count; got {in_chs} -> {out_chs}")
    return Res2Conv(in_chs, stride, scale=scale, groups=groups, first=first)
