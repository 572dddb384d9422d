"""Visual Attention Network and SegNeXt's MSCAN encoder, as classifiers.

- ``van_b0``/``van_b1``/``van_b2``: Guo et al., "Visual Attention Network", CVMJ 2023 (seed
  001). Overlapping patch embeddings (7x7 stride 4, then 3x3 stride 2) with BN; blocks of BN ->
  [1x1, GELU, Large Kernel Attention, 1x1, + input] and BN -> [1x1, 3x3 depthwise, GELU, 1x1],
  layer scale 1e-2; a LayerNorm closes each stage. B0: 32-64-160-256 x 3-3-5-2, MLP ratios
  8-8-4-4; B1: 64-128-320-512 x 2-2-4-2; B2: the same widths x 3-3-12-3. 3.87M / 13.40M /
  26.12M params at 100 classes (the paper's 4.1M / 13.9M / 26.6M at 1000). Seed 001 reports
  11.06M for its unnamed VAN.
- ``segnext_mscan_tiny``: the MSCAN-T encoder of Guo et al., "SegNeXt: Rethinking Convolutional
  Attention Design for Semantic Segmentation", NeurIPS 2022 (seed 003), with a linear head: the
  same blocks with Multi-Scale Convolutional Attention instead of LKA and a stem of two 3x3
  stride-2 convs. 32-64-160-256 x 3-3-5-2: 3.93M params at 100 classes (the paper's encoder is
  4.3M with its stem; seed 003 reports 0.85M for its own smaller variant, whose widths it does
  not give).

On 32x32 inputs the stride-4 stem leaves 8x8 and the last stage 1x1, as in the seeds.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from ._registry import DropRate, register_model, register_variant
from .layers import create_attn
from .metaformer import MetaBlock, MetaFormer


class GatedAttention(nn.Module):
    """VAN's "spatial attention": 1x1, GELU, the gating block (lka or msca), 1x1, plus input."""

    def __init__(self, dim: int, gate: str) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.act = nn.GELU()
        self.gate = create_attn(gate, dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_2(self.gate(self.act(self.proj_1(x))))


def conv_mlp(dim: int, ratio: float) -> nn.Sequential:
    hidden = int(dim * ratio)
    return nn.Sequential(
        nn.Conv2d(dim, hidden, 1),
        nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
        nn.GELU(),
        nn.Conv2d(hidden, dim, 1),
    )


def patch_embed(in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 2) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2), nn.BatchNorm2d(out_chs))


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an N, C, H, W map (VAN's per-stage norm on its tokens),
    with the authors' eps 1e-6 (``partial(nn.LayerNorm, eps=1e-6)`` in VAN and MSCAN)."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _van_like(
    gate: str,
    stem: nn.Module,
    dims: tuple[int, ...],
    depths: tuple[int, ...],
    mlp_ratios: tuple[float, ...],
    *,
    num_classes: int,
    drop_path_rate: DropRate,
) -> MetaFormer:
    def block(dim: int, stage: int, drop_path: float) -> MetaBlock:
        return MetaBlock(
            dim, mixer=GatedAttention(dim, gate), mlp=conv_mlp(dim, mlp_ratios[stage]),
            norm=nn.BatchNorm2d, layer_scale=1e-2, drop_path=drop_path,
        )

    return MetaFormer(
        dims=dims, depths=depths, stem=stem, downsample=patch_embed, block=block,
        stage_norm=ChannelLayerNorm, num_classes=num_classes, drop_path_rate=drop_path_rate,
    )


def _van_variant(name: str, dims: tuple[int, ...], depths: tuple[int, ...], doc: str) -> Callable[..., MetaFormer]:
    def entry(num_classes: int = 100, in_chans: int = 3, drop_path_rate: DropRate = 0.1) -> MetaFormer:
        stem = patch_embed(in_chans, dims[0], 7, 4)
        ratios = (8, 8, 4, 4)
        return _van_like("lka", stem, dims, depths, ratios, num_classes=num_classes, drop_path_rate=drop_path_rate)

    return register_variant(name, entry, doc)


van_b0 = _van_variant("van_b0", (32, 64, 160, 256), (3, 3, 5, 2), "VAN-B0: 3.87M params at 100 classes.")
van_b1 = _van_variant("van_b1", (64, 128, 320, 512), (2, 2, 4, 2), "VAN-B1: 13.40M params at 100 classes.")
van_b2 = _van_variant("van_b2", (64, 128, 320, 512), (3, 3, 12, 3), "VAN-B2: 26.12M params at 100 classes.")


@register_model
def segnext_mscan_tiny(num_classes: int = 100, in_chans: int = 3, drop_path_rate: DropRate = 0.1) -> MetaFormer:
    """SegNeXt MSCAN-T encoder with a linear head: 3.93M params at 100 classes."""
    dims = (32, 64, 160, 256)
    stem = nn.Sequential(
        nn.Conv2d(in_chans, dims[0] // 2, 3, 2, 1), nn.BatchNorm2d(dims[0] // 2), nn.GELU(),
        nn.Conv2d(dims[0] // 2, dims[0], 3, 2, 1), nn.BatchNorm2d(dims[0]),
    )
    return _van_like(
        "msca", stem, dims, (3, 3, 5, 2), (8, 8, 4, 4), num_classes=num_classes, drop_path_rate=drop_path_rate
    )
