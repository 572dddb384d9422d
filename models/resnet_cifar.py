"""CIFAR ResNets: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, sec. 4.2.

Three stages of 16-32-64 channels with n basic blocks each (depth 6n+2), a 3x3 stem and the
parameter-free shortcut (option A: stride-2 subsampling and zero-padded channels), which gives
the paper's counts: resnet20 0.27M, resnet32 0.46M, resnet56 0.85M at 10 classes.

An attention block from :func:`models.layers.create_attn` can be inserted in every residual block
at ``attention_position``: ``after_conv1`` (conv1 -> attn -> relu -> conv2 -> add),
``before_add`` (conv2 -> attn -> add, the SE/ECA papers' choice) or ``after_add``
(add -> attn -> relu). ``conv`` swaps the 3x3 convolutions for a block of
:func:`models.layers.create_conv` (``ghost`` for the seed-003 Ghost-ResNets).

The seed-003 variants: ``eca_resnet20/32`` put ECA (k_size 3, the seed's best) before the add;
``ghost_resnet20/32`` replace every 3x3 convolution by a Ghost module (ratio 2, dw 3x3).
``primary_kernel`` is the Ghost module's primary conv: with 1 (timm's ``GhostModule`` default)
they have 26,180 / 39,844 params at 100 classes, seed 003's Table 1 (0.03M / 0.04M); with 3
(the default, the GhostNet paper's Ghost-ResNet) 0.145M at ratio 2 and 0.080M at ratio 4, its
ratio ablation (sec. 5.2: 0.15M and 0.08M).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn

from ._registry import register_variant
from .layers.residual import AttentionPosition, BasicBlock, init_resnet_weights


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
                layers.append(BasicBlock(in_channels, width, stride, shortcut="a", **block_kwargs))
                in_channels = width
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        init_resnet_weights(self)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _variant(depth: int, params: str) -> Callable[..., CifarResNet]:
    def entry(
        num_classes: int = 10,
        in_chans: int = 3,
        attention: str | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        attention_position: AttentionPosition = "before_add",
        conv: str = "conv",
        conv_kwargs: dict[str, Any] | None = None,
    ) -> CifarResNet:
        return CifarResNet(
            (depth - 2) // 6, num_classes=num_classes, in_chans=in_chans, attention=attention,
            attention_kwargs=attention_kwargs, attention_position=attention_position, conv=conv,
            conv_kwargs=conv_kwargs,
        )

    return register_variant(f"resnet{depth}", entry, f"ResNet-{depth} (n={(depth - 2) // 6}): {params}.")


def _eca_variant(depth: int, params: str) -> Callable[..., CifarResNet]:
    def entry(
        num_classes: int = 10, in_chans: int = 3, k_size: int | None = 3,
        attention_position: AttentionPosition = "before_add",
    ) -> CifarResNet:  # k_size None: ECA's kernel adapts to each layer's channels
        return CifarResNet(
            (depth - 2) // 6, num_classes=num_classes, in_chans=in_chans, attention="eca",
            attention_kwargs={"k_size": k_size}, attention_position=attention_position,
        )

    doc = f"ResNet-{depth} with ECA (k_size 3) before the add: {params}."
    return register_variant(f"eca_resnet{depth}", entry, doc)


def _ghost_variant(depth: int, params: str) -> Callable[..., CifarResNet]:
    def entry(num_classes: int = 10, in_chans: int = 3, ratio: int = 2, primary_kernel: int = 3) -> CifarResNet:
        return CifarResNet(
            (depth - 2) // 6, num_classes=num_classes, in_chans=in_chans, conv="ghost",
            conv_kwargs={"ratio": ratio, "primary_kernel": primary_kernel},
        )

    doc = f"ResNet-{depth} with Ghost modules for its 3x3 convs: {params}."
    return register_variant(f"ghost_resnet{depth}", entry, doc)


resnet20 = _variant(20, "0.27M params at 10 classes, 0.28M at 100")
resnet32 = _variant(32, "0.46M params at 10 classes, 0.47M at 100")
resnet44 = _variant(44, "0.66M params at 10 classes")
resnet56 = _variant(56, "0.85M params at 10 classes, 0.86M at 100")
resnet110 = _variant(110, "1.7M params at 10 classes")
eca_resnet20 = _eca_variant(20, "0.28M params at 100 classes")
eca_resnet32 = _eca_variant(32, "0.47M params at 100 classes")
ghost_resnet20 = _ghost_variant(
    20, "0.145M params at 100 classes (ratio 2), 0.080M at ratio 4, 26,180 with primary_kernel 1"
)
ghost_resnet32 = _ghost_variant(32, "0.245M params at 100 classes (ratio 2), 39,844 with primary_kernel 1")
