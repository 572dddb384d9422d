"""Triplet attention: Misra et al., "Rotate to Attend: Convolutional Triplet Attention Module",
WACV 2021.

Three branches each rotate the tensor so a different axis plays the channel role, Z-pool it
(channel-wise max and mean, concatenated), and gate it with a 7x7 conv + BN + sigmoid: the (C, W)
and (C, H) branches capture cross-dimension interaction, the third is plain spatial attention.
The output is the mean of the three gated tensors.

Hand-written: timm has no triplet attention.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .create_attn import register_attn


class AttentionGate(nn.Module):
    """Z-pool over dim 1, then a k x k conv + BN to one sigmoid gate."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, momentum=0.01)  # the authors' value; PyTorch's default is 0.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


@register_attn("triplet")
class TripletAttention(nn.Module):
    def __init__(self, channels: int, *, kernel_size: int = 7, spatial: bool = True) -> None:
        # ``channels`` is unused: the gates pool the rotated channel axis away, so the block is
        # the same for any width; it is taken to keep every attention block's signature.
        super().__init__()
        self.gate_cw = AttentionGate(kernel_size)  # H rotated into the channel slot
        self.gate_hc = AttentionGate(kernel_size)  # W rotated into the channel slot
        self.gate_hw = AttentionGate(kernel_size) if spatial else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_cw = self.gate_cw(x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
        out_hc = self.gate_hc(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        if self.gate_hw is None:
            return (out_cw + out_hc) / 2
        return (out_cw + out_hc + self.gate_hw(x)) / 3
