"""Parameter and MAC counts of a model, for `orchestrate models` and run summaries."""

from __future__ import annotations

from typing import Optional

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


_COUNTED: dict[str, int] = {}  # architecture and input -> MACs of one image, in this process


def counted_macs(model: nn.Module, input_size: int, in_chans: int = 3, *, architecture: Optional[str] = None) -> int:
    """:func:`profile_model`'s MACs, counted once per ``architecture`` (a text naming the model's
    build: name, options, classes) and input in this process: a study's seeds, and most of its
    trials, share one, and counting costs a short trial 13 ms of its 0.3 s (ResNet-20). Without
    ``architecture`` (a model not built from a config), counted every time."""
    if architecture is None:
        return profile_model(model, input_size, in_chans)[1]
    key = f"{architecture} {in_chans}x{input_size}"
    if key not in _COUNTED:
        _COUNTED[key] = profile_model(model, input_size, in_chans)[1]
    return _COUNTED[key]
