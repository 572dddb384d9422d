"""Parameter and MAC counts of a model, for `orchestrate models` and run summaries."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def profile_model(model: nn.Module, input_size: int, in_chans: int = 3) -> tuple[int, int]:
    """(parameters, multiply-accumulates of one forward pass on one image).

    Runs on the model where it is (device, memory format), in eval mode so batch norm's running
    statistics stay untouched, and gives the model back in the mode it came in: a trainer can
    count its own model without copying it."""
    params = sum(p.numel() for p in model.parameters())
    training = model.training
    model.eval()
    first = next(model.parameters(), None)
    image = torch.zeros(1, in_chans, input_size, input_size, device=first.device if first is not None else None)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(image)
    model.train(training)
    return params, counter.get_total_flops() // 2  # torch counts a multiply-add as two FLOPs
