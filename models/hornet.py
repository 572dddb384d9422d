"""HorNet-T: Rao et al., "HorNet: Efficient High-Order Spatial Interactions with Recursive Gated
Convolutions", NeurIPS 2022 (seed 003).

ConvNeXt's macro design (4x4 stride-4 stem with LayerNorm, LayerNorm + 2x2 stride-2 downsampling,
widths 64-128-256-512, depths 2-3-18-2) with HorNet blocks: LayerNorm -> g^n Conv (orders 2, 3, 4,
5 by stage, 7x7 depthwise, scale 1/3) and LayerNorm -> MLP (ratio 4, GELU), layer scale 1e-6. The
7x7 variant of HorNet-T: 21.95M params at 100 classes (the paper's 22M at 1000). Seed 003 says
it loaded HorNet from timm, which has none, and reports 15.02M.
"""

from __future__ import annotations

import torch.nn as nn
from timm.layers import LayerNorm2d

from ._registry import DropRate, register_model
from .layers import create_attn
from .metaformer import MetaBlock, MetaFormer


def mlp(dim: int, ratio: int = 4) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(dim, ratio * dim, 1), nn.GELU(), nn.Conv2d(ratio * dim, dim, 1))


def downsample(in_chs: int, out_chs: int) -> nn.Sequential:
    return nn.Sequential(LayerNorm2d(in_chs, eps=1e-6), nn.Conv2d(in_chs, out_chs, 2, 2))


def norm(dim: int) -> nn.Module:
    # eps 1e-6 in every LayerNorm of the authors' code (ConvNeXt's), not PyTorch's 1e-5.
    return LayerNorm2d(dim, eps=1e-6)


@register_model
def hornet_tiny(
    num_classes: int = 100,
    in_chans: int = 3,
    orders: tuple[int, ...] = (2, 3, 4, 5),
    drop_path_rate: DropRate = 0.2,
) -> MetaFormer:
    """HorNet-T (7x7 g^n Conv): 21.95M params at 100 classes."""
    dims = (64, 128, 256, 512)

    def block(dim: int, stage: int, drop_path: float) -> MetaBlock:
        mixer = create_attn("gnconv", dim, order=orders[stage])
        return MetaBlock(dim, mixer=mixer, mlp=mlp(dim), norm=norm, layer_scale=1e-6, drop_path=drop_path)

    stem = nn.Sequential(nn.Conv2d(in_chans, dims[0], 4, 4), norm(dims[0]))
    return MetaFormer(
        dims=dims, depths=(2, 3, 18, 2), stem=stem, downsample=downsample, block=block,
        head_norm=lambda dim: nn.LayerNorm(dim, eps=1e-6), num_classes=num_classes, drop_path_rate=drop_path_rate,
    )
