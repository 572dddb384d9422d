"""MLP-Mixer: Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", NeurIPS 2021
(seed 003). Both are timm's ``MlpMixer``, which is the paper's.

- ``mlp_mixer_tiny``: seed 003's hand-built small Mixer for 32x32, which cites
  omihub777/MLP-Mixer-CIFAR: 4x4 patches (64 tokens), hidden 128, token-mixing MLP 64, channel-
  mixing MLP 512, 8 layers. 1.14M params at 100 classes; the seed reports 1.82M without its
  widths (12 such layers would give 1.71M).
- ``mlp_mixer_b16``: Mixer-B/16 at 224x224 (ImageNet weights with ``pretrained``), 59.19M params
  at 100 classes as in seed 003. Its token-mixing MLPs are sized by the 14x14 patch grid, so it
  takes 224px inputs only.
"""

from __future__ import annotations

from timm.models.mlp_mixer import MlpMixer

from ._helpers import Freeze, apply_freeze, create_timm
from ._registry import DropRate, input_size, register_model


@register_model
def mlp_mixer_tiny(
    num_classes: int = 100,
    in_chans: int = 3,
    img_size: int = 32,
    patch_size: int = 4,
    embed_dim: int = 128,
    num_blocks: int = 8,
    drop_path_rate: DropRate = 0.0,
) -> MlpMixer:
    """Small Mixer for CIFAR (patch 4, hidden 128, MLPs 64/512, 8 layers): 1.14M params at 100 classes."""
    return MlpMixer(
        num_classes=num_classes, img_size=img_size, in_chans=in_chans, patch_size=patch_size,
        num_blocks=num_blocks, embed_dim=embed_dim, mlp_ratio=(0.5, 4.0), drop_path_rate=drop_path_rate,
    )


@register_model
@input_size(224)
def mlp_mixer_b16(
    num_classes: int = 100,
    in_chans: int = 3,
    drop_path_rate: DropRate = 0.0,
    pretrained: bool = False,
    freeze: Freeze | None = None,
) -> MlpMixer:
    """timm's Mixer-B/16 at 224px: 59.19M params at 100 classes."""
    model = create_timm(
        "mixer_b16_224",
        pretrained=pretrained,
        num_classes=num_classes,
        in_chans=in_chans,
        drop_path_rate=drop_path_rate,
    )
    return apply_freeze(model, freeze, [model.get_classifier()])
