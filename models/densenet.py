"""DenseNet-121 for CIFAR: Huang et al., "Densely Connected Convolutional Networks", CVPR 2017,
with seed 001's SK / CA / Triplet insertions. Registered as ``densenet121_cifar``: timm's
``densenet121`` is the ImageNet network (7x7 stem and max-pool, pre-activation layers).

Dense blocks of 6-12-24-16 bottleneck layers (growth 32, bottleneck 4 x growth), transitions
that halve channels and resolution, a 3x3 stem of 2 x growth channels and no stem pooling (the
usual CIFAR adaptation). Each layer is the seed's listing: conv1x1 -> BN -> ReLU -> [block] ->
conv3x3 -> BN -> ReLU, concatenated to its input. 6.99M params at 100 classes. ``growth`` is
the growth rate: at 20, 2.76M, seed 001's "DenseNet121" (2.8M), whose CA, Triplet and
concatenated-SK rows then land at 2.88M / 2.78M / 5.88M (the seed's 2.92 / 2.81 / 5.9).

``attention`` inserts a shape-keeping block (``sk``, ``coord``, ``triplet``, ...) in the layers
chosen by ``sk_every``: with the seed's rule, layer i of a dense block of n layers gets one when
``i % max(n // sk_every, 1) == 0``, so ``sk_every: 5`` is its best row ("//5"); left unset, every
layer gets one. ``attention_position`` is ``after_conv1`` (between the convs, "Conv1 -> SK Conv
-> Conv2") or ``after_concat`` (on the concatenated output, "Conv2 -> Cat -> SK Conv").
``sk_groups`` is the SK conv's group count (the seed found 4 best in DenseNet, not SKNet's 32).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn as nn

from ._registry import register_model
from .layers import create_attn

DensePosition = Literal["after_conv1", "after_concat"]


def conv_bn_relu(in_chs: int, out_chs: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_chs),
        nn.ReLU(inplace=True),
    )


class DenseLayer(nn.Module):
    def __init__(
        self, in_chs: int, growth: int, *, attn: tuple[str, dict[str, Any]] | None, position: DensePosition
    ) -> None:
        super().__init__()
        width = 4 * growth
        self.conv1 = conv_bn_relu(in_chs, width, 1)
        self.conv2 = conv_bn_relu(width, growth, 3)
        self.position = position
        attn_chs = width if position == "after_conv1" else in_chs + growth
        self.attn = create_attn(attn[0], attn_chs, **attn[1]) if attn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.attn is not None and self.position == "after_conv1":
            out = self.attn(out)
        out = torch.cat([x, self.conv2(out)], dim=1)
        if self.attn is not None and self.position == "after_concat":
            out = self.attn(out)
        return out


def transition(in_chs: int, out_chs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(in_chs), nn.ReLU(inplace=True), nn.Conv2d(in_chs, out_chs, 1, bias=False), nn.AvgPool2d(2)
    )


def _chosen(index: int, layers: int, every: int | None) -> bool:
    return every is None or index % max(layers // every, 1) == 0


class DenseNet(nn.Module):
    def __init__(
        self,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        growth: int = 32,
        *,
        num_classes: int = 100,
        in_chans: int = 3,
        attn: tuple[str, dict[str, Any]] | None = None,
        every: int | None = None,
        position: DensePosition = "after_conv1",
    ) -> None:
        super().__init__()
        channels = 2 * growth
        stages: list[nn.Module] = [nn.Conv2d(in_chans, channels, 3, padding=1, bias=False)]
        for stage, layers in enumerate(block_config):
            for index in range(layers):
                chosen = attn if _chosen(index, layers, every) else None
                stages.append(DenseLayer(channels, growth, attn=chosen, position=position))
                channels += growth
            if stage < len(block_config) - 1:
                stages.append(transition(channels, channels // 2))
                channels //= 2
        stages += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*stages)
        self.fc = nn.Linear(channels, num_classes)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model
def densenet121_cifar(
    num_classes: int = 100,
    in_chans: int = 3,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: DensePosition = "after_conv1",
    sk_every: int | None = None,
    sk_groups: int | None = None,
    growth: int = 32,
) -> DenseNet:
    """DenseNet-121, CIFAR stem: 6.99M params at 100 classes at growth 32, 2.84M at growth 20
    (seed 001's 2.8M)."""
    kwargs = dict(attention_kwargs or {})
    if sk_groups is not None:
        if attention != "sk":
            raise ValueError(f"sk_groups applies to attention='sk', not {attention!r}")
        kwargs["groups"] = sk_groups
    elif attention == "sk":
        kwargs.setdefault("groups", 4)
    attn = (attention, kwargs) if attention not in (None, "none") else None
    return DenseNet(
        growth=growth, num_classes=num_classes, in_chans=in_chans, attn=attn, every=sk_every,
        position=attention_position,
    )
