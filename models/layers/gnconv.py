"""Recursive gated convolution (g^n Conv): Rao et al., "HorNet: Efficient High-Order Spatial
Interactions with Recursive Gated Convolutions", NeurIPS 2022.

A 1x1 projection to 2C channels splits into p_0 (C / 2^(n-1) channels) and a stack q_0..q_{n-1}
of widths C/2^(n-1) .. C that all pass one 7x7 depthwise conv (scaled by ``scale``, the paper's
1/3). Then p_{k+1} = g_k(p_k) * q_k with 1x1 convs g_k widening each order, and a 1x1 projection
of p_n gives the output, so interactions of order n cost little more than a convolution.

Hand-written: timm has no HorNet.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .create_attn import register_attn


@register_attn("gnconv")
class GnConv(nn.Module):
    def __init__(self, channels: int, *, order: int = 5, kernel_size: int = 7, scale: float = 1.0 / 3) -> None:
        super().__init__()
        if order < 1 or channels % 2 ** (order - 1):
            raise ValueError(f"gnconv order={order} needs channels divisible by {2 ** (order - 1)}, got {channels}")
        self.dims = [channels // 2**k for k in range(order)][::-1]
        self.scale = scale
        self.proj_in = nn.Conv2d(channels, 2 * channels, 1)
        stacked = sum(self.dims)
        self.dwconv = nn.Conv2d(stacked, stacked, kernel_size, padding=kernel_size // 2, groups=stacked)
        self.pws = nn.ModuleList(nn.Conv2d(self.dims[k], self.dims[k + 1], 1) for k in range(order - 1))
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q = torch.split(self.proj_in(x), [self.dims[0], sum(self.dims)], dim=1)
        gates = torch.split(self.dwconv(q) * self.scale, self.dims, dim=1)
        out = p * gates[0]
        for pw, gate in zip(self.pws, gates[1:]):
            out = pw(out) * gate
        return self.proj_out(out)
