"""Seed 002's CBAM networks for CIFAR-10 resized to 224x224 (Woo et al., "CBAM: Convolutional
Block Attention Module", ECCV 2018).

"ResAttention" in the seed is a residual basic block with CBAM on its branch before the add;
"AttentionModule" a stand-alone CBAM.

- ``sample_resnet`` ("Sample ResNet"): 7x7 stride-2 conv, BN, ReLU, max-pool, ResAttention,
  AttentionModule, ResAttention, average pool, FC, in that order. The seed gives no widths; 64
  and then 96 channels (the second block at stride 2) land on its 0.23M params
  (232,164 at 10 classes).
- ``resnet50_attn`` ("ResNet Attention"): ResNet-50 (ImageNet stem, ImageNet weights with
  ``pretrained``) whose layer-4 output is mapped by a 1x1 conv + BN + ReLU to 512 channels and
  passed through one ResAttention before the classifier; ``freeze: backbone`` freezes the
  ResNet-50 and trains the new head. The seed gives no head widths: this head has 5.81M params
  (29.32M in all at 10 classes) against its 5.11M (28.62M).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ._helpers import Freeze
from ._registry import input_size, register_model
from .layers import ConvBn, create_attn
from .layers.residual import BasicBlock, Bottleneck
from .resnet import ResNet, build_resnet, make_stem


class SampleResNet(nn.Module):
    def __init__(
        self,
        widths: tuple[int, int] = (64, 96),
        *,
        num_classes: int = 10,
        in_chans: int = 3,
        attention: str | None = "cbam",
        attention_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        attn = {"attention": attention, "attention_kwargs": attention_kwargs}
        self.stem = make_stem("imagenet", in_chans, widths[0])
        self.block1 = BasicBlock(widths[0], widths[0], **attn)
        self.attn = create_attn(attention, widths[0], **(attention_kwargs or {})) or nn.Identity()
        self.block2 = BasicBlock(widths[0], widths[1], 2, **attn)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[1], num_classes)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.attn(self.block1(self.stem(x))))
        return self.fc(torch.flatten(self.global_pool(x), 1))


@register_model
@input_size(224)
def sample_resnet(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = "cbam",
    attention_kwargs: dict[str, Any] | None = None,
) -> SampleResNet:
    """Seed 002's Sample ResNet with CBAM: 232,164 params at 10 classes (the seed's 0.23M)."""
    return SampleResNet(
        num_classes=num_classes, in_chans=in_chans, attention=attention, attention_kwargs=attention_kwargs
    )


@register_model
@input_size(224)
def resnet50_attn(
    num_classes: int = 10,
    in_chans: int = 3,
    attention: str | None = "cbam",
    attention_kwargs: dict[str, Any] | None = None,
    head_width: int = 512,
    pretrained: bool = False,
    freeze: Freeze | None = None,
) -> ResNet:
    """ResNet-50 + 1x1 conv + CBAM residual block head: 29.32M params at 10 classes."""
    neck = nn.Sequential(
        ConvBn(2048, head_width, 1),
        nn.ReLU(inplace=True),
        BasicBlock(head_width, head_width, attention=attention, attention_kwargs=attention_kwargs),
    )
    return build_resnet(
        Bottleneck, [3, 4, 6, 3], weights="resnet50.tv_in1k", stem="imagenet", pretrained=pretrained,
        freeze=freeze, neck=(neck, head_width), num_classes=num_classes, in_chans=in_chans,
    )
