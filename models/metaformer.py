"""The four-stage "norm -> token mixer, norm -> MLP" backbone that VAN, SegNeXt's MSCAN and
HorNet share (Yu et al., "MetaFormer Is Actually What You Need for Vision", CVPR 2022, names the
pattern). Each family supplies its stem, downsampling layers, norm, token mixer and MLP; this
module only stacks them, with per-channel layer scale and linearly growing stochastic depth.

Everything stays channels-first, so an MLP written as 1x1 convs has the parameters of the papers'
linear layers.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
from timm.layers import DropPath

from ._registry import DropRate

ModuleFactory = Callable[[int], nn.Module]


class LayerScale2d(nn.Module):
    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class MetaBlock(nn.Module):
    def __init__(
        self, dim: int, *, mixer: nn.Module, mlp: nn.Module, norm: ModuleFactory, layer_scale: float, drop_path: float
    ) -> None:
        super().__init__()
        self.norm1, self.mixer, self.scale1 = norm(dim), mixer, LayerScale2d(dim, layer_scale)
        self.norm2, self.mlp, self.scale2 = norm(dim), mlp, LayerScale2d(dim, layer_scale)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.scale1(self.mixer(self.norm1(x))))
        return x + self.drop_path(self.scale2(self.mlp(self.norm2(x))))


class MetaFormer(nn.Module):
    """Stem, then per stage a downsampling layer (not before the first) and ``depths[i]`` blocks.

    ``block(dim, stage, drop_path)`` builds one block; ``stage_norm`` (if any) closes each stage
    and ``head_norm`` (if any) normalises the pooled features before the classifier.
    """

    def __init__(
        self,
        *,
        dims: tuple[int, ...],
        depths: tuple[int, ...],
        stem: nn.Module,
        downsample: Callable[[int, int], nn.Module],
        block: Callable[[int, int, float], nn.Module],
        stage_norm: ModuleFactory | None = None,
        head_norm: ModuleFactory | None = None,
        num_classes: int = 100,
        drop_path_rate: DropRate = 0.0,
    ) -> None:
        super().__init__()
        total, index = sum(depths), 0
        stages: list[nn.Module] = [stem]
        for stage, (dim, depth) in enumerate(zip(dims, depths)):
            if stage > 0:
                stages.append(downsample(dims[stage - 1], dim))
            for _ in range(depth):
                stages.append(block(dim, stage, drop_path_rate * index / max(total - 1, 1)))
                index += 1
            if stage_norm is not None:
                stages.append(stage_norm(dim))
        self.features = nn.Sequential(*stages)
        self.head_norm = head_norm(dims[-1]) if head_norm else nn.Identity()
        self.fc = nn.Linear(dims[-1], num_classes)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.features(x).mean((2, 3))
        return self.fc(self.head_norm(pooled))
