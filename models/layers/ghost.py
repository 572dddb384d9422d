"""Ghost module: Han et al., "GhostNet: More Features from Cheap Operations", CVPR 2020.

A primary convolution makes ``ceil(out / ratio)`` intrinsic maps and a cheap depthwise ``dw_size``
convolution derives the remaining "ghost" maps from them, so ratio 2 roughly halves the
parameters of the convolution it replaces. ``primary_kernel`` is the primary convolution's
kernel: 3 keeps the replaced layer's 3x3 kernel, as in the paper's Ghost-ResNet-56; 1 is timm's
``GhostModule`` default (and GhostNet's), a 1x1 primary conv that leaves the spatial mixing to the
cheap depthwise maps. Seed 003's Table 1 counts imply 1, its ratio ablation 3.
"""

from __future__ import annotations

import torch.nn as nn
from timm.models.ghostnet import GhostModule

from .create_conv import register_conv


@register_conv("ghost")
def ghost(
    in_chs: int, out_chs: int, stride: int = 1, *, ratio: int = 2, dw_size: int = 3, primary_kernel: int = 3
) -> nn.Module:
    if ratio < 2:
        raise ValueError(f"ghost ratio must be at least 2, got {ratio}")
    if primary_kernel < 1 or primary_kernel % 2 == 0:
        raise ValueError(f"ghost primary_kernel must be a positive odd integer, got {primary_kernel}")
    # timm's GhostModule is the paper's. Identity activations make it a conv + BN stand-in: the
    # residual block applies its own ReLU where the replaced convolution had one.
    return GhostModule(
        in_chs, out_chs, kernel_size=primary_kernel, ratio=ratio, dw_size=dw_size, stride=stride, act_layer=nn.Identity
    )
