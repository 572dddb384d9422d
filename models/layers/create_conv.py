"""Convolution blocks looked up by string: ``create_conv(name, in_chs, out_chs, stride, **kw)``.

Each block stands in for the 3x3 convolution + BatchNorm pair of a residual or dense block (the
block applies its own activation afterwards), so a family can swap ``conv`` for ``ghost``, ``sk``
or ``res2`` without changing its own code.
"""

from __future__ import annotations

from typing import Any, Callable

import torch.nn as nn

from ._builders import Builder, BuilderTable

_conv = BuilderTable("conv")


def register_conv(name: str) -> Callable[[Builder], Builder]:
    """Register a conv-block builder under ``name``; a duplicate name raises."""
    return _conv.register(name)


def list_conv() -> list[str]:
    return _conv.names()


def create_conv(name: str, in_chs: int, out_chs: int, stride: int = 1, **kwargs: Any) -> nn.Module:
    """Build the conv block ``name`` mapping ``in_chs`` to ``out_chs`` channels at ``stride``."""
    return _conv.build(name, in_chs, out_chs, stride, **kwargs)


class ConvBn(nn.Sequential):
    """Convolution without bias followed by BatchNorm, the plain block."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)


@register_conv("conv")
def conv_bn(in_chs: int, out_chs: int, stride: int = 1, *, kernel_size: int = 3, groups: int = 1) -> nn.Module:
    return ConvBn(in_chs, out_chs, kernel_size, stride, groups)
