"""Coordinate Attention: Hou et al., "Coordinate Attention for Efficient Mobile Network Design",
CVPR 2021.

Pool along W and along H to two direction-aware strips, encode them jointly with a shared 1x1
conv (``max(min_channels, channels // reduction)`` channels, BN, a nonlinearity), split, and turn
each strip into a sigmoid gate by its own 1x1 conv: y = x * g_h(i) * g_w(j).

Hand-written: timm's ``CoordAttn`` fixes the strip pooling to the mean and the activation to its
own choice, while the seed-000 report ablates both. ``activation`` is the nonlinearity after the
shared conv (the paper's h-swish by default; seed 000 tries sigmoid, ReLU, ELU and softmax, the
last across the shared conv's channels at each strip position, the axis ``nn.Softmax()`` picks
for a 4-D tensor when none is given); ``pool`` is the strip pooling: the paper's ``avg``,
or the mean plus a second statistic, ``avg+max``, ``avg+l1`` or ``avg+l2``. The L1/L2 statistics
are power means of |x| (mean |x| and root-mean-square), so they share the mean's scale whatever
the strip length.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from .create_attn import register_attn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "hardswish": nn.Hardswish,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "sigmoid": nn.Sigmoid,
    "softmax": lambda: nn.Softmax(dim=1),
}


def _second_statistic(kind: str) -> Callable[[torch.Tensor, int], torch.Tensor] | None:
    statistics: dict[str, Callable[[torch.Tensor, int], torch.Tensor] | None] = {
        "avg": None,
        "avg+max": lambda x, dim: x.amax(dim, keepdim=True),
        "avg+l1": lambda x, dim: x.abs().mean(dim, keepdim=True),
        "avg+l2": lambda x, dim: x.square().mean(dim, keepdim=True).add(1e-12).sqrt(),
    }
    if kind not in statistics:
        raise ValueError(f"coord pool must be one of {', '.join(statistics)}, got {kind!r}")
    return statistics[kind]


@register_attn("coord")
class CoordAttention(nn.Module):
    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 32,
        min_channels: int = 8,
        activation: str = "hardswish",
        pool: str = "avg",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"coord activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.extra_pool = _second_statistic(pool)
        mid = max(min_channels, channels // reduction)
        self.conv1 = nn.Conv2d(channels, mid, 1)
        self.bn1 = nn.BatchNorm2d(mid)
        self.act = ACTIVATIONS[activation]()
        self.conv_h = nn.Conv2d(mid, channels, 1)
        self.conv_w = nn.Conv2d(mid, channels, 1)

    def _strip(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        pooled = x.mean(dim, keepdim=True)
        if self.extra_pool is not None:
            pooled = pooled + self.extra_pool(x, dim)
        return pooled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height = x.shape[2]
        along_h = self._strip(x, 3)  # N, C, H, 1
        along_w = self._strip(x, 2).transpose(2, 3)  # N, C, W, 1
        y = self.act(self.bn1(self.conv1(torch.cat([along_h, along_w], dim=2))))
        y_h, y_w = torch.split(y, [height, y.shape[2] - height], dim=2)
        gate_h = torch.sigmoid(self.conv_h(y_h))
        gate_w = torch.sigmoid(self.conv_w(y_w.transpose(2, 3)))
        return x * gate_h * gate_w

