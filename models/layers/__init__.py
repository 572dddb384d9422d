"""Attention and convolution blocks, looked up by string.

Importing the block files registers them: ``create_attn`` gives shape-keeping blocks (se, eca,
cbam, coord, triplet, lka, msca, gnconv, sk), ``create_conv`` gives conv + BN stand-ins (conv,
ghost, sk, res2).
"""

from . import (  # noqa: F401  (each import registers its blocks)
    channel_attention,
    coord_attention,
    ghost,
    gnconv,
    large_kernel,
    res2net,
    selective_kernel,
    triplet,
)
from .create_attn import create_attn, list_attn, register_attn
from .create_conv import ConvBn, create_conv, list_conv, register_conv

__all__ = ["ConvBn", "create_attn", "create_conv", "list_attn", "list_conv", "register_attn", "register_conv"]
