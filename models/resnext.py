"""ResNeXt-29 for CIFAR: Xie et al., "Aggregated Residual Transformations for Deep Neural
Networks", CVPR 2017, sec. 5.3.

A 3x3 stem and three stages of three bottleneck blocks with grouped 3x3 convs, output widths
256-512-1024; cardinality C and group width d give "C x d" (first-stage bottleneck width C * d,
doubled each stage). The paper's CIFAR models are 8x64d (34.4M params at 10 classes, which this
builds exactly) and 16x64d (68.1M); 2x64d, 4x64d and 32x4d are the smaller members common in CIFAR
code. Seed 000 does not say which member it trained; ``resnext29_8x64d`` is the paper's.
"""

from __future__ import annotations

from typing import Any, Callable

from ._registry import DropRate, register_variant
from .layers.residual import AttentionPosition, Bottleneck
from .resnet import ResNet, build_resnet


def _resnext29(cardinality: int, group_width: int, **kwargs: Any) -> ResNet:
    return build_resnet(
        Bottleneck,
        [3, 3, 3],
        widths=(64, 128, 256),
        width_factor=cardinality * group_width / 64,
        conv_kwargs={"groups": cardinality},
        **kwargs,
    )


def _variant(cardinality: int, group_width: int, params: str) -> Callable[..., ResNet]:
    def entry(
        num_classes: int = 100,
        in_chans: int = 3,
        attention: str | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        attention_position: AttentionPosition = "before_add",
        drop_path_rate: DropRate = 0.0,
    ) -> ResNet:
        return _resnext29(
            cardinality, group_width, num_classes=num_classes, in_chans=in_chans, attention=attention,
            attention_kwargs=attention_kwargs, attention_position=attention_position, drop_path_rate=drop_path_rate,
        )

    name = f"resnext29_{cardinality}x{group_width}d"
    return register_variant(name, entry, f"ResNeXt-29 {cardinality}x{group_width}d: {params}.")


resnext29_2x64d = _variant(2, 64, "9.22M params at 100 classes")
resnext29_4x64d = _variant(4, 64, "17.65M params at 100 classes")
resnext29_8x64d = _variant(8, 64, "34.43M params at 10 classes (the paper's 34.4M), 34.52M at 100")
resnext29_16x64d = _variant(16, 64, "68.16M params at 10 classes (the paper's 68.1M), 68.25M at 100")
resnext29_32x4d = _variant(32, 4, "4.87M params at 100 classes")
