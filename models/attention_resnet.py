"""ResNet-18 (CIFAR stem) with one attention block in every basic block, as seeds 000 and 001 use.

- ``resnet_ca`` (seed 000's ResNetCA): Coordinate Attention (Hou et al., CVPR 2021) before the
  residual add, where the CA paper and seed 000 put it. Its ablations vary the CA activation and
  strip pooling through ``attention_kwargs`` (``activation``, ``pool``). 11.29M params at 100
  classes.
- ``resnet_coord`` (seed 001): Coordinate Attention between the block's two convs, where seed 001
  inserts every block ("Conv1 -> CA Conv -> Conv2"). 11.29M params at 100 classes; the seed
  reports 9.7M for a backbone it does not describe.
- ``resnet_triplet`` (seed 001): Triplet Attention (Misra et al., WACV 2021) between the convs.
  11.22M params at 100 classes, the seed's 11.23M.

Seed 001's one rule for "between the convs": the block sees conv1's output after its BN and ReLU
(``after_relu1``), as its DenseNet listing shows; ``resnet_mix`` (whose ``conv1`` step ends in
the ReLU) follows it too, so its Table 1 rows compare the same insertion.
"""

from __future__ import annotations

from typing import Any, Callable

from ._registry import DropRate, register_variant
from .layers.residual import AttentionPosition, BasicBlock
from .resnet import ResNet, build_resnet


def _variant(name: str, attention: str, position: AttentionPosition, doc: str) -> Callable[..., ResNet]:
    def entry(
        num_classes: int = 100,
        in_chans: int = 3,
        attention_kwargs: dict[str, Any] | None = None,
        attention_position: AttentionPosition = position,
        drop_path_rate: DropRate = 0.0,
    ) -> ResNet:
        return build_resnet(
            BasicBlock, [2, 2, 2, 2], num_classes=num_classes, in_chans=in_chans, attention=attention,
            attention_kwargs=attention_kwargs, attention_position=attention_position, drop_path_rate=drop_path_rate,
        )

    return register_variant(name, entry, doc)


resnet_ca = _variant(
    "resnet_ca", "coord", "before_add", "ResNet-18 + CA before the add (seed 000): 11.29M params at 100 classes."
)
resnet_coord = _variant(
    "resnet_coord", "coord", "after_relu1", "ResNet-18 + CA between the convs (seed 001): 11.29M params at 100 classes."
)
resnet_triplet = _variant(
    "resnet_triplet", "triplet", "after_relu1", "ResNet-18 + Triplet between the convs (seed 001): 11.22M params."
)
