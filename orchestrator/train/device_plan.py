"""What the trainer will do on a trial's device, said before anything runs (the dry run's recipe
line): the same resolution the trainer's setup applies, from the spec and the device type alone."""

from __future__ import annotations

from typing import Optional

import torch

from ..recipe_spec import TrainSpec
from .setup import resolve_channels_last


def trial_device(train: TrainSpec, gpus_per_trial: float) -> torch.device:
    """The device a trial trains on: ``auto`` is CUDA only where the trial is given a GPU share."""
    if train.device == "auto":
        return torch.device("cuda" if gpus_per_trial > 0 else "cpu")
    return torch.device(train.device)


def planned_autocast(train: TrainSpec, device: torch.device) -> Optional[torch.dtype]:
    """Autocast's dtype as far as the spec tells (``auto`` is taken as bf16 on CUDA)."""
    if device.type != "cuda" or train.amp == "off":
        return None
    return torch.float16 if train.amp == "fp16" else torch.bfloat16


def _choice(value: object) -> str:
    return "auto" if value == "auto" else "set"


def device_line(train: TrainSpec, gpus_per_trial: float) -> str:
    """e.g. ``on cuda: amp auto, channels_last on (auto)``."""
    device = trial_device(train, gpus_per_trial)
    channels_last = resolve_channels_last(train.channels_last, device, planned_autocast(train, device))
    amp = train.amp if device.type == "cuda" else "off"
    return f"on {device.type}: amp {amp}, channels_last {'on' if channels_last else 'off'} ({_choice(train.channels_last)})"
