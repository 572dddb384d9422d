"""Selective Kernel networks: Li et al., "Selective Kernel Networks", CVPR 2019 (seed 001).

- ``sknet26``: the paper's SKNet-26 layout, ResNeXt bottlenecks 2-2-2-2 (32 x 4d) whose grouped
  3x3 conv is an SK unit (M=2 paths 3x3 and dilated 3x3, G=32, r=16, L=32), on the CIFAR stem.
  14.89M params at 100 classes; seed 001 reports 4.81M for an SKNet-26 it does not specify.
- ``resnet_mix``: seed 001's Table 1 mixes. A ResNet-18 (CIFAR stem) whose basic block runs its
  two 3x3 convs and shape-keeping blocks (``sk``, ``coord``, ``triplet``, any ``create_attn``
  name) in the order given by ``order``; blocks before ``conv1`` see the block's input channels,
  blocks after it see conv1's output after its BN and ReLU (seed 001's rule, as ``resnet_coord``).
  Table 1's rows: ``[conv1, sk, coord, conv2]`` (the default), ``[coord, conv1, sk, conv2]``, and
  Coordinate + Triplet attention ``[conv1, coord, triplet, conv2]``. ``block_kwargs`` maps a
  block name to its options, e.g. ``{sk: {groups: 32}}``. 11.88M params at 100 classes with the
  default order; the seed's 6.65M come from a narrower backbone it does not describe.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._registry import DropRate, register_model
from .layers import ConvBn, create_attn
from .layers.residual import Bottleneck, make_shortcut
from .resnet import ResNet, build_resnet

CONVS = ("conv1", "conv2")


class MixBlock(nn.Module):
    """A basic block whose convs and inserted blocks run in a given order, then the residual add."""

    expansion = 1

    def __init__(
        self,
        in_chs: int,
        chs: int,
        stride: int = 1,
        *,
        order: Sequence[str],
        block_kwargs: dict[str, dict[str, Any]] | None = None,
        drop_path: float = 0.0,  # taken for the ResNet builder's interface; the seed used none
    ) -> None:
        super().__init__()
        if [step for step in order if step in CONVS] != list(CONVS):
            raise ValueError(f"order must contain conv1 then conv2 exactly once, got {list(order)}")
        steps: list[nn.Module] = []
        channels = in_chs
        for step in order:
            if step == "conv1":
                steps.append(nn.Sequential(ConvBn(in_chs, chs, 3, stride), nn.ReLU(inplace=True)))
                channels = chs
            elif step == "conv2":
                steps.append(ConvBn(chs, chs, 3))
            else:
                steps.append(create_attn(step, channels, **(block_kwargs or {}).get(step, {})))
        self.steps = nn.Sequential(*steps)
        self.shortcut = make_shortcut("b", in_chs, chs, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.steps(x) + self.shortcut(x))


@register_model
def sknet26(
    num_classes: int = 100,
    in_chans: int = 3,
    groups: int = 32,
    attention: str | None = None,
    attention_kwargs: dict[str, Any] | None = None,
    drop_path_rate: DropRate = 0.0,
) -> ResNet:
    """SKNet-26 (32 x 4d SK bottlenecks 2-2-2-2), CIFAR stem: 14.89M params at 100 classes."""
    return build_resnet(
        Bottleneck,
        [2, 2, 2, 2],
        width_factor=groups * 4 / 64,
        conv="sk",
        conv_kwargs={"groups": groups},
        num_classes=num_classes,
        in_chans=in_chans,
        attention=attention,
        attention_kwargs=attention_kwargs,
        drop_path_rate=drop_path_rate,
    )


@register_model
def resnet_mix(
    num_classes: int = 100,
    in_chans: int = 3,
    order: Sequence[str] = ("conv1", "sk", "coord", "conv2"),
    block_kwargs: dict[str, dict[str, Any]] | None = None,
) -> ResNet:
    """ResNet-18 with SK / CA / Triplet blocks in seed 001's Table 1 orders: 11.88M at 100 classes."""
    return build_resnet(
        MixBlock, [2, 2, 2, 2], num_classes=num_classes, in_chans=in_chans, order=tuple(order),
        block_kwargs=block_kwargs,
    )
