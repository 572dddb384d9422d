"""Res2Net for CIFAR: Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2021.

Res2Net-50 (bottlenecks 3-4-6-3) whose 3x3 conv is the hierarchical split conv of
:mod:`models.layers.res2net` (26w x 4s: each of the 4 groups is 26 channels in the first stage),
on the CIFAR 3x3 stem. Seed 000 leaves depth and width open; these are the paper's defaults.

- ``res2net``: 23.85M params at 100 classes.
- ``res2net_ca``: Coordinate Attention after the last 1x1 conv + BN, before the residual add
  (seed 000, sec. 4.6).
- ``res2net_ca_v1b``: seed 000's best model: the same plus the "v1b" changes it describes, a deep
  stem (three 3x3 convs) and an average-pool shortcut in downsampling blocks (ResNet-D).
"""

from __future__ import annotations

from typing import Any, Callable

from ._registry import DropRate, register_variant
from .layers.residual import AttentionPosition, Bottleneck, Shortcut
from .resnet import ResNet, Stem, build_resnet


class Res2Bottleneck(Bottleneck):
    """Bottleneck whose 3x3 conv is the split conv, marked ``first`` in each stage's first block
    (the one whose shortcut changes the shape), as timm's ``Bottle2neck.is_first``."""

    def __init__(self, in_chs: int, chs: int, stride: int = 1, *, scale: int = 4, **kwargs: Any) -> None:
        first = stride > 1 or in_chs != chs * self.expansion
        super().__init__(in_chs, chs, stride, conv="res2", conv_kwargs={"scale": scale, "first": first}, **kwargs)


def _variant(name: str, attention: str | None, stem: Stem, shortcut: Shortcut, doc: str) -> Callable[..., ResNet]:
    def entry(
        num_classes: int = 100,
        in_chans: int = 3,
        scale: int = 4,
        base_width: int = 26,
        attention: str | None = attention,
        attention_kwargs: dict[str, Any] | None = None,
        attention_position: AttentionPosition = "before_add",
        stem: Stem = stem,
        shortcut: Shortcut = shortcut,
        drop_path_rate: DropRate = 0.0,
    ) -> ResNet:
        return build_resnet(
            Res2Bottleneck, [3, 4, 6, 3], width_factor=scale * base_width / 64, scale=scale,
            num_classes=num_classes, in_chans=in_chans, attention=attention, attention_kwargs=attention_kwargs,
            attention_position=attention_position, stem=stem, shortcut=shortcut, drop_path_rate=drop_path_rate,
        )

    return register_variant(name, entry, doc)


res2net = _variant("res2net", None, "cifar", "b", "Res2Net-50 26w x 4s, CIFAR stem: 23.85M params at 100 classes.")
res2net_ca = _variant(
    "res2net_ca", "coord", "cifar", "b", "Res2Net-50 + CA before the add: 25.77M params at 100 classes."
)
res2net_ca_v1b = _variant(
    "res2net_ca_v1b",
    "coord",
    "cifar_deep",
    "d",
    "Res2Net-50 + CA, deep stem, avg-pool shortcut: 25.79M params at 100 classes.",
)
