"""Vision Transformer for 32x32: Dosovitskiy et al., "An Image is Worth 16x16 Words:
Transformers for Image Recognition at Scale", ICLR 2021 (seed 000).

timm's ``VisionTransformer`` (the paper's: patch embedding, class token, learned position
embedding, pre-norm encoder blocks with MLP ratio 4 and GELU). Seed 000 describes the paper's
ViT-Base (D=768) and trains it on 32x32 CIFAR-100, so the default is ViT-Base (12 layers,
12 heads, width 768) with 4x4 patches, 64 tokens plus the class token: 85.22M params at 100
classes. ``patch_size`` must divide the input side; the smaller widths are options.
"""

from __future__ import annotations

from timm.models.vision_transformer import VisionTransformer

from ._registry import DropRate, register_model


@register_model
def vit(
    num_classes: int = 100,
    in_chans: int = 3,
    img_size: int = 32,
    patch_size: int = 4,
    embed_dim: int = 768,
    depth: int = 12,
    num_heads: int = 12,
    drop_path_rate: DropRate = 0.0,
) -> VisionTransformer:
    """ViT-Base with 4x4 patches on 32x32 inputs: 85.22M params at 100 classes."""
    if img_size % patch_size:
        raise ValueError(f"patch_size {patch_size} must divide img_size {img_size}")
    return VisionTransformer(
        img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=num_classes,
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, drop_path_rate=drop_path_rate,
    )
