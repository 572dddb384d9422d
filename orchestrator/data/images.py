"""Decode encoded images (JPEG, PNG, ...) into one uint8 ``(N, 3, H, W)`` tensor.

Members are read one after another (tar and zip handles are not safe to share between threads),
then decoded by a thread pool: torchvision's decoders release the GIL, so it uses every core.
Optional resizing (shorter side, then a centre crop) makes images of different sizes stackable.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, Sequence

import torch


def decode_one(data: bytes, size: Optional[int] = None) -> torch.Tensor:
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2 import functional as TF

    image = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    if size is not None and tuple(image.shape[1:]) != (size, size):
        image = TF.center_crop(TF.resize(image, size, antialias=True), [size, size])
    return image


def decode_all(read: Callable[[str], bytes], names: Sequence[str], size: Optional[int] = None) -> torch.Tensor:
    """Decode ``read(name)`` for every name, in order; all images must end up the same size."""
    if not names:
        return torch.empty(0, 3, size or 1, size or 1, dtype=torch.uint8)
    encoded = [read(name) for name in names]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        images = list(pool.map(lambda data: decode_one(data, size), encoded))
    shapes = {tuple(image.shape) for image in images}
    if len(shapes) > 1:
        raise ValueError(f"images differ in size ({', '.join(map(str, sorted(shapes)[:3]))}, ...); "
                         "set the dataset option image_size to resize them")
    return torch.stack(images)
