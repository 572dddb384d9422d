"""Architectures taken whole from timm, which implements them as their papers do, with timm's
ImageNet weights on ``pretrained: true`` and ``freeze: backbone`` to train only the classifier.

Seed 003 (CIFAR-100, params at 100 classes, all matching its Table 1):
- ``ghostnet_100``: Han et al., "GhostNet: More Features from Cheap Operations", CVPR 2020. 4.03M.
- ``coatnet_0``: Dai et al., "CoAtNet: Marrying Convolution and Attention for All Data Sizes",
  NeurIPS 2021, as timm's ``coatnet_0_rw_224``. 26.74M at 224px; its relative-position tables
  are sized by ``img_size``, so it is built for one input side (26.68M at 32px).
- ``cspresnet50``: Wang et al., "CSPNet: A New Backbone that can Enhance Learning Capability of
  CNN", CVPRW 2020. 20.69M.
- ``resnest50d``: Zhang et al., "ResNeSt: Split-Attention Networks", CVPRW 2022. 25.64M.

Seed 000 (CIFAR-100): ``edgenext_small`` and ``edgenext_base``, Maaz et al., "EdgeNeXt:
Efficiently Amalgamated CNN-Transformer Architecture for Mobile Vision Applications", ECCVW
2022. 5.31M and 17.98M.
"""

from __future__ import annotations

from typing import Any, Callable

import torch.nn as nn

from ._helpers import Freeze, apply_freeze, create_timm
from ._registry import DropRate, input_size, register_model, register_variant


def _timm_model(variant: str, *, pretrained: bool, freeze: Freeze | None, **kwargs: Any) -> nn.Module:
    model = create_timm(variant, pretrained=pretrained, **kwargs)
    return apply_freeze(model, freeze, [model.get_classifier()])


@register_model
def ghostnet_100(
    num_classes: int = 100, in_chans: int = 3, pretrained: bool = False, freeze: Freeze | None = None
) -> nn.Module:
    """GhostNet 1.0x: 4.03M params at 100 classes."""
    return _timm_model("ghostnet_100", **locals())


@register_model
@input_size(224)
def coatnet_0(
    num_classes: int = 100,
    in_chans: int = 3,
    img_size: int = 224,
    drop_path_rate: DropRate = 0.0,
    pretrained: bool = False,
    freeze: Freeze | None = None,
) -> nn.Module:
    """CoAtNet-0 (timm coatnet_0_rw_224): 26.74M params at 100 classes and 224px."""
    return _timm_model("coatnet_0_rw_224", **locals())


def _variant(name: str, doc: str) -> Callable[..., nn.Module]:
    def entry(
        num_classes: int = 100,
        in_chans: int = 3,
        drop_path_rate: DropRate = 0.0,
        pretrained: bool = False,
        freeze: Freeze | None = None,
    ) -> nn.Module:
        return _timm_model(
            name, pretrained=pretrained, freeze=freeze, num_classes=num_classes, in_chans=in_chans,
            drop_path_rate=drop_path_rate,
        )

    return register_variant(name, entry, doc)


cspresnet50 = _variant("cspresnet50", "CSPResNet-50: 20.69M params at 100 classes.")
resnest50d = _variant("resnest50d", "ResNeSt-50d: 25.64M params at 100 classes.")
edgenext_small = _variant("edgenext_small", "EdgeNeXt-S: 5.31M params at 100 classes.")
edgenext_base = _variant("edgenext_base", "EdgeNeXt-B: 17.98M params at 100 classes.")
