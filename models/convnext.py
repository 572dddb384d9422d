"""A small ConvNeXt for CIFAR: Liu et al., "A ConvNet for the 2020s", CVPR 2022 (seed 003).

Seed 003's hand-built "convnext_tiny", registered as ``convnext_cifar`` because timm's
``convnext_tiny`` is ConvNeXt-T (28M params) and a registry name must mean one architecture.
The paper's design (4x4 stride-4 stem + LayerNorm, blocks of 7x7 depthwise conv -> LayerNorm ->
1x1 to 4x -> GELU -> 1x1 with a residual, LayerNorm + 2x2 stride-2 downsampling) with "fewer
blocks and channels per stage" than ConvNeXt-T, no layer scale and no stochastic depth (it lists
neither). It gives 0.26M params but not the widths; depths 2-2-2-2 at 12-24-48-96 channels give
0.25M (251,392 at 100 classes). timm's ConvNeXt class is the paper's block, so it is built from
it. ConvNeXt-T itself, with ImageNet weights, is ``timm/convnext_tiny`` (27.90M at 100 classes).
"""

from __future__ import annotations

from timm.models.convnext import ConvNeXt

from ._registry import DropRate, register_model


@register_model
def convnext_cifar(
    num_classes: int = 100,
    in_chans: int = 3,
    depths: tuple[int, ...] = (2, 2, 2, 2),
    dims: tuple[int, ...] = (12, 24, 48, 96),
    drop_path_rate: DropRate = 0.0,
) -> ConvNeXt:
    """Seed 003's small hand-built ConvNeXt ("convnext_tiny" there): 251,392 params at 100 classes."""
    return ConvNeXt(
        in_chans=in_chans, num_classes=num_classes, depths=tuple(depths), dims=tuple(dims),
        ls_init_value=None, drop_path_rate=drop_path_rate,
    )
