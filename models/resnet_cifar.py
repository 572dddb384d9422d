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
``ghost_resnet20/32`` replace every 3x3 convolution by a Ghost module (ratio 2, dw 3x3). Their
Table 1 lists ghost_resnet20 at 0.03M, which no Ghost-ResNet-20 reaches; its own ablation
(sec. 5.2) gives 0.15M at ratio 2 and 0.08M at ratio 4, which is what these build
(0.145M and 0.080M at 100 classes).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ._registry import register_model
from .layers.residual import AttentionPosition, BasicBlock


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
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _cifar_resnet(depth: int, **kwargs: Any) -> CifarResNet:
    return CifarResNet((depth - 2) // 6, **kwargs)


@register_model
def resnet20(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "before_add",
    conv: str = "conv",
    conv_kwargs: dict[str, Any] | None = None,
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
    conv: str = "conv",
    conv_kwargs: dict[str, Any] | None = None,
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
    conv: str = "conv",
    conv_kwargs: dict[str, Any] | None = None,
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
    conv: str = "conv",
    conv_kwargs: dict[str, Any] | None = None,
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
    conv: str = "conv",
    conv_kwargs: dict[str, Any] | None = None,
) -> CifarResNet:
    """ResNet-110 (n=18): 1.7M params at 10 classes."""
    return _cifar_resnet(110, **locals())


@register_model
def eca_resnet20(
    num_classes: int = 10, in_chans: int = 3, k_size: int = 3, attention_position: AttentionPosition = "before_add"
) -> CifarResNet:
    """ResNet-20 with ECA (k_size 3) before the add: 0.28M params at 100 classes."""
    return _cifar_resnet(20, num_classes=num_classes, in_chans=in_chans, attention="eca",
                         attention_kwargs={"k_size": k_size}, attention_position=attention_position)


@register_model
def eca_resnet32(
    num_classes: int = 10, in_chans: int = 3, k_size: int = 3, attention_position: AttentionPosition = "before_add"
) -> CifarResNet:
    """ResNet-32 with ECA (k_size 3) before the add: 0.47M params at 100 classes."""
    return _cifar_resnet(32, num_classes=num_classes, in_chans=in_chans, attention="eca",
                         attention_kwargs={"k_size": k_size}, attention_position=attention_position)


@register_model
def ghost_resnet20(num_classes: int = 10, in_chans: int = 3, ratio: int = 2) -> CifarResNet:
    """ResNet-20 with Ghost modules for its 3x3 convs: 0.145M at 100 classes (ratio 2)."""
    return _cifar_resnet(20, num_classes=num_classes, in_chans=in_chans, conv="ghost", conv_kwargs={"ratio": ratio})


@register_model
def ghost_resnet32(num_classes: int = 10, in_chans: int = 3, ratio: int = 2) -> CifarResNet:
    """ResNet-32 with Ghost modules for its 3x3 convs: 0.25M at 100 classes (ratio 2)."""
    return _cifar_resnet(32, num_classes=num_classes, in_chans=in_chans, conv="ghost", conv_kwargs={"ratio": ratio})
