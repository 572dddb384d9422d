"""Seed 004's Tiny-ImageNet-200 (64x64) networks, trained from scratch.

- ``alexnet_tin``: Krizhevsky et al., "ImageNet Classification with Deep Convolutional Neural
  Networks", NeurIPS 2012, at torchvision's widths (64-192-384-256-256). The seed says only that
  it was adapted to 64px: here the first conv is 5x5 at stride 1 (the 11x11 stride-4 conv would
  leave 15px), three max-pools take 64 -> 7, an adaptive pool gives 3x3, and the classifier is
  dropout, FC 2048, dropout, FC 2048, FC. 11.78M params at 200 classes (seed: 12.70M).
- ``resnet_tin``: the seed's 9-conv ResNet (listing 1, after Wu et al.'s Tiny ImageNet report):
  a 3x3 stem of 32 channels and four residual units, each a stride-2 3x3 conv doubling the
  channels and a 3x3 conv (biased convs, BN), with a stride-2 1x1 conv shortcut, up to 512
  channels; global pooling and a linear layer. 4.98M params at 200 classes (seed: 5.01M, its
  figure, which would pin the rest, is missing).
- ``densenet_tin``: the seed's listing 4 exactly (Abai and Rajmalwar, "DenseNet Models for Tiny
  ImageNet Classification", model 2): blocks of biased 3x3 conv + BN + ReLU, each dense stage's
  output concatenated to its input and max-pooled, a 1x1 conv to the classes and 8x8 average
  pooling. 11,809,672 params at 200 classes, the seed's count.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ._registry import DropRate, input_size, register_model


def kaiming_init(model: nn.Module) -> nn.Module:
    """The seed's ``_initialize_weights``: Kaiming-normal convs (fan_out), zero biases."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def conv_block(in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    """Biased conv + BN + ReLU, the seed's CONV module."""
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2),
        nn.BatchNorm2d(out_chs),
        nn.ReLU(inplace=True),
    )


class ResidualUnit(nn.Module):
    """relu(conv1x1_s2(x) + bn(conv3x3(relu(bn(conv3x3_s2(x)))))) at ``rate`` x the channels."""

    def __init__(self, in_chs: int, rate: int = 2) -> None:
        super().__init__()
        out_chs = rate * in_chs
        self.layer = nn.Sequential(
            conv_block(in_chs, out_chs, 3, 2), nn.Conv2d(out_chs, out_chs, 3, 1, 1), nn.BatchNorm2d(out_chs)
        )
        self.shortcut = nn.Conv2d(in_chs, out_chs, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.layer(x))


class ClassifierNet(nn.Module):
    """``features`` then ``classifier``, with timm's ``get_classifier``."""

    def __init__(self, features: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.classifier = classifier
        kaiming_init(self)

    def get_classifier(self) -> nn.Module:
        return self.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def resnet_tin_encoder(in_chans: int, width: int) -> nn.Sequential:
    """Stem of ``width`` channels and four doubling units: 16x smaller, 16 x ``width`` channels."""
    return nn.Sequential(conv_block(in_chans, width), *(ResidualUnit(width * 2**k) for k in range(4)))


@register_model
@input_size(64)
def alexnet_tin(num_classes: int = 200, in_chans: int = 3, drop_rate: DropRate = 0.5) -> ClassifierNet:
    """AlexNet adapted to 64x64: 11.78M params at 200 classes."""
    features = nn.Sequential(
        nn.Conv2d(in_chans, 64, 5, 1, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, 1, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, 1, 1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d(3), nn.Flatten(),
    )
    classifier = nn.Sequential(
        nn.Dropout(drop_rate), nn.Linear(256 * 9, 2048), nn.ReLU(inplace=True),
        nn.Dropout(drop_rate), nn.Linear(2048, 2048), nn.ReLU(inplace=True),
        nn.Linear(2048, num_classes),
    )
    return ClassifierNet(features, classifier)


@register_model
@input_size(64)
def resnet_tin(num_classes: int = 200, in_chans: int = 3, width: int = 32) -> ClassifierNet:
    """The seed's 9-conv ResNet: 4.98M params at 200 classes."""
    features = nn.Sequential(resnet_tin_encoder(in_chans, width), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return ClassifierNet(features, nn.Linear(16 * width, num_classes))


class DenseStage(nn.Module):
    """cat(x, blocks(x)) then 2x2 max-pool: listing 4's dense connection."""

    def __init__(self, in_chs: int, out_chs: int, depth: int = 4) -> None:
        super().__init__()
        rest = (conv_block(out_chs, out_chs) for _ in range(depth - 1))
        self.blocks = nn.Sequential(conv_block(in_chs, out_chs), *rest)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.cat([x, self.blocks(x)], dim=1))


@register_model
@input_size(64)
def densenet_tin(num_classes: int = 200, in_chans: int = 3) -> ClassifierNet:
    """Seed 004's listing-4 DenseNet: 11,809,672 params at 200 classes."""
    features = nn.Sequential(conv_block(in_chans, 32), DenseStage(32, 128), DenseStage(160, 256), DenseStage(416, 512))
    # The listing's head is a 1x1 conv to the classes then 8x8 average pooling (global at 64px).
    classifier = nn.Sequential(nn.Conv2d(928, num_classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return ClassifierNet(features, classifier)
