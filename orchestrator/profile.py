"""Parameter and MAC counts of a model, for `orchestrate models` and run summaries."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def profile_model(model: nn.Module, input_size: int, in_chans: int = 3) -> tuple[int, int]:
    """(parameters, multiply-accumulates of one forward pass on one image)."""
    params = sum(p.numel() for p in model.parameters())
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, in_chans, input_size, input_size))
    return params, counter.get_total_flops() // 2  # torch counts a multiply-add as two FLOPs
