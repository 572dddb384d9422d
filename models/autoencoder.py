"""Seed 004's convolutional autoencoder for semi-supervised Tiny-ImageNet (its task 2).

The seed pre-trains an autoencoder on all training images by reconstruction error, then trains a
classifier on its encoder with the 10% of images that keep their labels. Its encoder is the
9-conv ``resnet_tin`` with fewer channels (here half: 16 -> 256 channels, 16x downsampling); its
decoder is deliberately light (listing 6): four transposed residual units 256 -> 256 -> 128 ->
64 -> 3, each doubling the resolution, then one plain residual unit on the 3 channels. That last
unit ends without an activation so the output can reach normalised (signed) pixel values. The
classifier is global pooling and one linear layer on the encoder's features.

``encode``/``decode``/``reconstruct`` serve the pre-training stage, ``forward`` (logits) the
fine-tuning stage. 3.12M params at 200 classes (the seed reports 4.31M without giving its
encoder widths).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._registry import input_size, register_model
from .tiny_imagenet import kaiming_init, resnet_tin_encoder


class TransposedResidualUnit(nn.Module):
    """The encoder's residual unit mirrored: transposed convs double the resolution."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.layer = nn.Sequential(
            nn.ConvTranspose2d(in_chs, out_chs, 3, 2, 1, output_padding=1),
            nn.BatchNorm2d(out_chs),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_chs, out_chs, 3, 1, 1), nn.BatchNorm2d(out_chs),
        )
        self.shortcut = nn.ConvTranspose2d(in_chs, out_chs, 1, 2, output_padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.layer(x))


class LinearResidualUnit(nn.Module):
    """x + bn(conv(relu(bn(conv(x))))) with no final activation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.layer = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer(x)


class AutoEncoderTin(nn.Module):
    def __init__(self, *, num_classes: int = 200, in_chans: int = 3, width: int = 16) -> None:
        super().__init__()
        latent = 16 * width
        self.encoder = resnet_tin_encoder(in_chans, width)
        self.decoder = nn.Sequential(
            TransposedResidualUnit(latent, latent),
            TransposedResidualUnit(latent, latent // 2),
            TransposedResidualUnit(latent // 2, latent // 4),
            TransposedResidualUnit(latent // 4, in_chans),
            LinearResidualUnit(in_chans),
        )
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(latent, num_classes)
        kaiming_init(self)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent feature map: 16 x ``width`` channels at 1/16 of the input resolution."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Image from a latent map; ``size`` resamples when the input side was not a multiple of 16."""
        image = self.decoder(z)
        if size is not None and tuple(image.shape[-2:]) != tuple(size):
            image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        return image

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The input's reconstruction, of the input's shape (for the pre-training loss)."""
        return self.decode(self.encode(x), size=(x.shape[-2], x.shape[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits from the pooled encoder features (for the fine-tuning stage)."""
        return self.fc(torch.flatten(self.global_pool(self.encode(x)), 1))


@register_model
@input_size(64)
def autoencoder_tin(num_classes: int = 200, in_chans: int = 3, width: int = 16) -> AutoEncoderTin:
    """ResNet-encoder autoencoder with a linear classifier: 3.12M params at 200 classes."""
    return AutoEncoderTin(num_classes=num_classes, in_chans=in_chans, width=width)
