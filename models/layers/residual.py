"""Residual blocks shared by the ResNet-like families: basic and bottleneck, He et al., "Deep
Residual Learning for Image Recognition", CVPR 2016.

Both blocks take their 3x3 convolution from :func:`create_conv` (``conv``, ``ghost``, ``sk``,
``res2``; ``conv_kwargs`` carries e.g. ResNeXt's ``groups`` or Res2Net's ``scale``) and one
optional attention block from :func:`create_attn` at ``attention_position``:

- ``after_conv1``: after the block's first conv + BN, before its activation (seed 003's Pos1,
  "Conv1 -> ECA -> ReLU -> Conv2");
- ``after_relu1``: after the block's first conv + BN + ReLU, before the next conv (seed 001's
  "Conv1 -> CA -> Conv2", whose listings apply each inserted block to the activated output);
- ``before_add``: on the residual branch just before the addition (the SE/ECA/CA papers' place);
- ``after_add``: after the addition, before the final activation.

Shortcuts when the shape changes: ``a`` (parameter-free subsample + zero padding, the CIFAR
ResNets), ``b`` (1x1 conv + BN, torchvision/timm), ``d`` (2x2 average pool then 1x1 conv + BN,
Bag of Tricks' ResNet-D, which the Res2Net "v1b" variant uses).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath

from .create_attn import create_attn
from .create_conv import ConvBn, create_conv

AttentionPosition = Literal["after_conv1", "after_relu1", "before_add", "after_add"]
ATTENTION_POSITIONS = ("after_conv1", "after_relu1", "before_add", "after_add")
Shortcut = Literal["a", "b", "d"]


class ShortcutA(nn.Module):
    """Identity shortcut that subsamples and zero-pads the new channels (no parameters)."""

    def __init__(self, in_chs: int, out_chs: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_chs - in_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.extra_channels // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))


def init_resnet_weights(model: nn.Module) -> None:
    """He et al.'s initialisation: Kaiming-normal convs (fan_out), BatchNorm at identity."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def make_shortcut(kind: Shortcut, in_chs: int, out_chs: int, stride: int) -> nn.Module:
    if stride == 1 and in_chs == out_chs:
        return nn.Identity()
    if kind == "a":
        return ShortcutA(in_chs, out_chs, stride)
    if kind == "b":
        return ConvBn(in_chs, out_chs, 1, stride)
    if kind == "d":
        pool = nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
        return nn.Sequential(pool, ConvBn(in_chs, out_chs, 1))
    raise ValueError(f"shortcut must be one of a, b, d, got {kind!r}")


class ResidualBlock(nn.Module):
    """Attention slot, shortcut and drop-path common to both blocks."""

    def _init_residual(
        self,
        in_chs: int,
        out_chs: int,
        stride: int,
        first_width: int,
        *,
        shortcut: Shortcut = "b",
        attention: str | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        attention_position: AttentionPosition = "before_add",
        drop_path: float = 0.0,
    ) -> None:
        if attention_position not in ATTENTION_POSITIONS:
            raise ValueError(
                f"attention_position must be one of {', '.join(ATTENTION_POSITIONS)}, got {attention_position!r}"
            )
        attn_chs = first_width if attention_position in ("after_conv1", "after_relu1") else out_chs
        self.attn = create_attn(attention, attn_chs, **(attention_kwargs or {}))
        self.attention_position = attention_position
        self.shortcut = make_shortcut(shortcut, in_chs, out_chs, stride)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _attend(self, x: torch.Tensor, position: str) -> torch.Tensor:
        if self.attn is not None and self.attention_position == position:
            return self.attn(x)
        return x

    def _finish(self, residual: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.drop_path(self._attend(residual, "before_add")) + self.shortcut(x)
        return F.relu(self._attend(out, "after_add"))


class BasicBlock(ResidualBlock):
    """Two 3x3 convs (or their stand-ins); ``residual`` takes shortcut, attention and drop_path."""

    expansion = 1

    def __init__(
        self,
        in_chs: int,
        chs: int,
        stride: int = 1,
        *,
        conv: str = "conv",
        conv_kwargs: dict[str, Any] | None = None,
        **residual: Any,
    ) -> None:
        super().__init__()
        self.conv1 = create_conv(conv, in_chs, chs, stride, **(conv_kwargs or {}))
        self.conv2 = create_conv(conv, chs, chs, 1, **(conv_kwargs or {}))
        self._init_residual(in_chs, chs, stride, chs, **residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._attend(F.relu(self._attend(self.conv1(x), "after_conv1")), "after_relu1")
        return self._finish(self.conv2(out), x)


class Bottleneck(ResidualBlock):
    """1x1 reduce, 3x3 (or its stand-in) at ``chs * width_factor``, 1x1 expand to ``4 * chs``.

    ``width_factor`` is the bottleneck width over ``chs``: 1 for ResNet-50, ``groups * d / 64``
    for ResNeXt (C x d) and ``scale * w / 64`` for Res2Net (w x s).
    """

    expansion = 4

    def __init__(
        self,
        in_chs: int,
        chs: int,
        stride: int = 1,
        *,
        width_factor: float = 1.0,
        conv: str = "conv",
        conv_kwargs: dict[str, Any] | None = None,
        **residual: Any,
    ) -> None:
        super().__init__()
        width, out_chs = int(chs * width_factor), chs * self.expansion
        self.conv1 = ConvBn(in_chs, width, 1)
        self.conv2 = create_conv(conv, width, width, stride, **(conv_kwargs or {}))
        self.conv3 = ConvBn(width, out_chs, 1)
        self._init_residual(in_chs, out_chs, stride, width, **residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._attend(F.relu(self._attend(self.conv1(x), "after_conv1")), "after_relu1")
        out = F.relu(self.conv2(out))
        return self._finish(self.conv3(out), x)
