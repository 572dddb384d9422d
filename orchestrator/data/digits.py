"""scikit-learn's bundled handwritten digits: real data that needs no network.

1,797 8x8 grey images of 10 digits, upsampled to 32x32 RGB so CIFAR models run unchanged. The
train/validation split is fixed (stratified, seed 0) so every trial sees the same 1,438/359 images.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from .registry import ImageSide, register_dataset
from .splits import stratified_split
from .tensors import DatasetTensors

VAL_FRACTION = 0.2


@register_dataset("digits", num_classes=10)
def digits(root: Path, download: bool, *, image_size: ImageSide = 32) -> DatasetTensors:
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    bunch = load_digits()
    grey = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(grey, size=(image_size, image_size), mode="bilinear", align_corners=False)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)

    val_index, train_index = stratified_split(labels, VAL_FRACTION, seed=0)
    return DatasetTensors(
        images[train_index], labels[train_index], images[val_index], labels[val_index], 10,
        [str(d) for d in range(10)],
    )
