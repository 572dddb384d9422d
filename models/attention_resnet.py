"""ResNet-18 (CIFAR stem) with one attention block in every basic block, as seeds 000 and 001 use.

- ``resnet_ca`` (seed 000's ResNetCA): Coordinate Attention (Hou et al., CVPR 2021) before the
  residual add, where the CA paper and seed 000 put it. Its ablations vary the CA activation and
  strip pooling through ``attention_kwargs`` (``activation``, ``pool``). 11.25M params at 100
  classes.
- ``resnet_coord`` (seed 001): Coordinate Attention between the block's two convs, where seed 001
  inserts every block ("Conv1 -> CA Conv -> Conv2"). 11.25M params at 100 classes; the seed
  reports 9.7M for a backbone it does not describe.
- ``resnet_triplet`` (seed 001): Triplet Attention (Misra et al., WACV 2021) between the convs.
  11.22M params at 100 classes, the seed's 11.23M.
"""

from __future__ import annotations

from typing import Any

from ._registry import register_model
from .layers.residual import AttentionPosition, BasicBlock
from .resnet import ResNet, build_resnet


def _resnet18_with(attention: str, **kwargs: Any) -> ResNet:
    return build_resnet(BasicBlock, [2, 2, 2, 2], attention=attention, **kwargs)


@register_model
def resnet_ca(
    num_classes: int = 100,
    in_chans: int = 3,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "before_add",
    drop_path_rate: float = 0.0,
) -> ResNet:
    """ResNet-18 + Coordinate Attention before the add (seed 000): 11.25M params at 100 classes."""
    return _resnet18_with("coord", **locals())


@register_model
def resnet_coord(
    num_classes: int = 100,
    in_chans: int = 3,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "after_conv1",
    drop_path_rate: float = 0.0,
) -> ResNet:
    """ResNet-18 + Coordinate Attention between the convs (seed 001): 11.25M params at 100 classes."""
    return _resnet18_with("coord", **locals())


@register_model
def resnet_triplet(
    num_classes: int = 100,
    in_chans: int = 3,
    attention_kwargs: dict[str, Any] | None = None,
    attention_position: AttentionPosition = "after_conv1",
    drop_path_rate: float = 0.0,
) -> ResNet:
    """ResNet-18 + Triplet Attention between the convs (seed 001): 11.22M params at 100 classes."""
    return _resnet18_with("triplet", **locals())
