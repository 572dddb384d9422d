"""ResNet-18/34/50: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.

Four stages of basic (18, 34) or bottleneck (50) blocks at 64-128-256-512 channels, built from
the shared blocks of :mod:`models.layers.residual`, so attention and conv options work here as in
the CIFAR ResNets. ``stem`` picks the input layer:

- ``cifar``: one 3x3 conv at stride 1, no max-pool (the usual CIFAR adaptation, seed 000);
- ``cifar_deep``: three 3x3 convs at stride 1 (the "v1b" deep stem, adapted to 32x32);
- ``imagenet``: the paper's 7x7 stride-2 conv and 3x3 max-pool, needed for ImageNet weights.

Left unset, the stem is ``imagenet`` with ``pretrained`` and ``cifar`` otherwise.
``pretrained`` loads torchvision's ImageNet weights through timm (``resnet50.tv_in1k``, the
weights seed 002 fine-tuned); ``freeze: backbone`` then trains only the classifier.

Parameter counts: resnet18 11.22M, resnet34 21.33M, resnet50 23.71M at 100 classes with the
CIFAR stem; resnet50 with the ImageNet stem at 10 classes is seed 002's 23,528,522 exactly.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Callable, Literal

import torch
import torch.nn as nn

from ._helpers import Freeze, apply_freeze, create_timm, mark_pretrained
from ._registry import DropRate, register_variant
from .layers.residual import AttentionPosition, BasicBlock, Bottleneck, init_resnet_weights

Stem = Literal["cifar", "cifar_deep", "imagenet"]


def make_stem(kind: Stem, in_chans: int, width: int) -> nn.Sequential:
    half = width // 2
    convs = {
        "cifar": lambda: nn.Conv2d(in_chans, width, 3, 1, 1, bias=False),
        "cifar_deep": lambda: nn.Sequential(
            nn.Conv2d(in_chans, half, 3, 1, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, 1, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, width, 3, 1, 1, bias=False),
        ),
        "imagenet": lambda: nn.Conv2d(in_chans, width, 7, 2, 3, bias=False),
    }
    if kind not in convs:
        raise ValueError(f"stem must be one of {', '.join(convs)}, got {kind!r}")
    pool = nn.MaxPool2d(3, 2, 1) if kind == "imagenet" else nn.Identity()
    layers = OrderedDict(conv=convs[kind](), bn=nn.BatchNorm2d(width), act=nn.ReLU(inplace=True), pool=pool)
    return nn.Sequential(layers)


class ResNet(nn.Module):
    """Stem, stages of ``block`` and a linear head; ``neck`` (identity unless a variant sets one)
    runs on the last feature map before pooling."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        *,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        stem: Stem = "cifar",
        num_classes: int = 100,
        in_chans: int = 3,
        drop_path_rate: DropRate = 0.0,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.stem = make_stem(stem, in_chans, widths[0])
        in_chs, index, total = widths[0], 0, sum(layers)
        for stage, (depth, chs) in enumerate(zip(layers, widths)):
            blocks = []
            for position in range(depth):
                stride = 2 if stage > 0 and position == 0 else 1
                rate = drop_path_rate * index / max(total - 1, 1)  # linear decay rule of stochastic depth
                blocks.append(block(in_chs, chs, stride, drop_path=rate, **block_kwargs))
                in_chs, index = chs * block.expansion, index + 1
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
        self.stages = [f"layer{stage + 1}" for stage in range(len(layers))]
        self.num_features = in_chs
        self.neck: nn.Module = nn.Identity()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_chs, num_classes)
        init_resnet_weights(self)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name in self.stages:
            x = getattr(self, name)(x)
        return self.neck(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.global_pool(self.forward_features(x)), 1))


# timm's (and torchvision's) ResNet names -> ours: the stem is one Sequential and every conv
# carries its BatchNorm.
_TIMM_KEYS = [
    (r"^conv1\.", "stem.conv."),
    (r"^bn1\.", "stem.bn."),
    (r"\.conv(\d)\.", r".conv\1.conv."),
    (r"\.bn(\d)\.", r".conv\1.bn."),
    (r"\.downsample\.0\.", ".shortcut.conv."),
    (r"\.downsample\.1\.", ".shortcut.bn."),
]


def load_timm_resnet_state(model: ResNet, state: dict[str, torch.Tensor]) -> None:
    """Load a timm/torchvision ResNet state dict (without its classifier) into ``model``."""
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in _TIMM_KEYS:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    own_head = ("fc.", "neck.")
    if unexpected or any(not key.startswith(own_head) for key in missing):
        raise ValueError(f"weights do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")


def build_resnet(
    block: type[BasicBlock] | type[Bottleneck],
    layers: list[int],
    *,
    weights: str | None = None,
    stem: Stem | None = None,
    pretrained: bool = False,
    freeze: Freeze | None = None,
    neck: tuple[nn.Module, int] | None = None,
    **kwargs: Any,
) -> ResNet:
    """A ResNet, optionally with a neck, ImageNet weights (timm name ``weights``) and a frozen trunk."""
    if pretrained and stem not in (None, "imagenet"):
        raise ValueError(f"ImageNet weights need stem='imagenet', got stem={stem!r}")
    model = ResNet(block, layers, stem=stem or ("imagenet" if pretrained else "cifar"), **kwargs)
    if neck is not None:
        model.neck, channels = neck
        model.fc = nn.Linear(channels, model.fc.out_features)
    if pretrained:
        if weights is None:
            raise ValueError("no ImageNet weights are published for this variant")
        source = create_timm(weights, pretrained=True, num_classes=0, in_chans=kwargs.get("in_chans", 3))
        load_timm_resnet_state(model, source.state_dict())
        mark_pretrained(model, source.pretrained_cfg)
    return apply_freeze(model, freeze, [model.neck, model.fc])


def _variant(
    name: str, block: type[BasicBlock] | type[Bottleneck], layers: list[int], params: str
) -> Callable[..., ResNet]:
    def entry(
        num_classes: int = 100,
        in_chans: int = 3,
        stem: Stem | None = None,
        attention: str | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        attention_position: AttentionPosition = "before_add",
        drop_path_rate: DropRate = 0.0,
        pretrained: bool = False,
        freeze: Freeze | None = None,
    ) -> ResNet:
        return build_resnet(
            block, layers, weights=f"{name}.tv_in1k", stem=stem, pretrained=pretrained, freeze=freeze,
            num_classes=num_classes, in_chans=in_chans, attention=attention, attention_kwargs=attention_kwargs,
            attention_position=attention_position, drop_path_rate=drop_path_rate,
        )

    return register_variant(name, entry, params)


resnet18 = _variant("resnet18", BasicBlock, [2, 2, 2, 2], "ResNet-18: 11.22M params at 100 classes (CIFAR stem).")
resnet34 = _variant("resnet34", BasicBlock, [3, 4, 6, 3], "ResNet-34: 21.33M params at 100 classes (CIFAR stem).")
resnet50 = _variant(
    "resnet50",
    Bottleneck,
    [3, 4, 6, 3],
    "ResNet-50: 23.71M params at 100 classes (CIFAR stem); 23,528,522 at 10 classes with the ImageNet "
    "stem (seed 002, whose ``pretrained: true, freeze: backbone`` trains 20,490).",
)
