"""CIFAR ResNets: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, sec. 4.2.

Three stages of 16-32-64 channels with n basic blocks each (depth 6n+2), a 3x3 stem and the
parameter-free shortcut (option A: stride-2 subsampling and zero-padded channels), which gives
the paper's counts: resnet20 0.27M, resnet32 0.46M, resnet56 0.85M at 10 classes.

An attention block from :func:`models.layers.create_attn` can be inserted in every residual block
at ``attention_position``: ``after_conv1`` (conv1 -> attn -> relu -> conv2 -> add),
``before_add`` (conv2 -> attn -> add, the SE/ECA papers' choice) or ``after_add``
(add -> attn -> relu).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._registry import register_model
from .layers import create_attn

AttentionPosition = Literal["after_conv1", "before_add", "after_add"]
ATTENTION_POSITIONS = ("after_conv1", "before_add", "after_add")


class ShortcutA(nn.Module):
    """Identity shortcut that halves resolution and zero-pads the new channels (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.extra_channels // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))


class BasicBlock(nn.Module):
    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        *,
        attention: str | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        attention_position: AttentionPosition = "before_add",
    ) -> None:
        super().__init__()
        if attention_position not in ATTENTION_POSITIONS:
            raise ValueError(
                f"attention_position must be one of {', '.join(ATTENTION_POSITIONS)}, "
                f"got {attention_position!r}"
            )
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.attn = create_attn(attention, channels, **(attention_kwargs or {}))
        self.attention_position = attention_position
        if stride != 1 or in_channels != channels:
            self.shortcut: nn.Module = ShortcutA(in_channels, channels, stride)
        else:
            self.shortcut = nn.Identity()

    def _attend(self, x: torch.Tensor, position: str) -> torch.Tensor:
        if self.attn is not None and self.attention_position == position:
            return self.attn(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._attend(self.bn1(self.conv1(x)), "after_conv1")
        out = self.bn2(self.conv2(F.relu(out)))
        out = self._attend(out, "before_add") + self.shortcut(x)
        return F.relu(self._attend(out, "after_add"))


class CifarResNet(nn.Module):
    def __init__(
        self,
        blocks_per_stage: int,
        *,
        num_classes: int = 10,
        in_chans: int = 3,
        widths: tuple[int, int, int] = (16, 32, 64),
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        in_channels = widths[0]
        for stage, width in enumerate(widths):
            for index in range(blocks_per_stage):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(BasicBlock(in_channels, width, stride, **block_kwargs))
                in_channels = width
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _cifar_resnet(
    depth: int,
    *,
    num_classes: int,
    in_chans: int,
    attention: str | None,
    attention_kwargs: dict[str, Any] | None,
    attention_position: AttentionPosition,
) -> CifarResNet:
    return CifarResNet(
        (depth - 2) // 6,
        num_classes=num_classes,
        in_chans=in_chans,
        attention=attention,
        attention_kwargs=attention_kwargs,
        attention_position=attention_position,
    )


@register_model
def resnet20(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "before_add",
) -> CifarResNet:
    """ResNet-20 (n=3): 0.27M params at 10 classes, 0.28M at 100."""
    return _cifar_resnet(20, **locals())


@register_model
def resnet32(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "before_add",
) -> CifarResNet:
    """ResNet-32 (n=5): 0.46M params at 10 classes, 0.47M at 100."""
    return _cifar_resnet(32, **locals())


@register_model
def resnet44(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "before_add",
) -> CifarResNet:
    """ResNet-44 (n=7): 0.66M params at 10 classes."""
    return _cifar_resnet(44, **locals())


@register_model
def resnet56(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "before_add",
) -> CifarResNet:
    """ResNet-56 (n=9): 0.85M params at 10 classes, 0.86M at 100."""
    return _cifar_resnet(56, **locals())


@register_model
def resnet110(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "before_add",
) -> CifarResNet:
    """ResNet-110 (n=18): 1.7M params at 10 classes."""
    return _cifar_resnet(110, **locals())
