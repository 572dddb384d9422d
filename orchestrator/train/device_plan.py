"""What the trainer will do on a trial's device, said before anything runs (the dry run's recipe
line): the same resolution the trainer's setup applies, from the spec and the device type alone."""

from __future__ import annotations

from typing import Optional

import torch

from ..errors import OptionError
from .recipe import TrainSpec
from .graphs import resolve_cuda_graphs, spec_reason
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


def graphs_reason(train: TrainSpec, gpus_per_trial: float) -> Optional[str]:
    """Why the trials will not capture their steps, as far as the spec tells (None: they will)."""
    if train.cuda_graphs == "off":
        return "train.cuda_graphs: off"
    device = trial_device(train, gpus_per_trial)
    return spec_reason(train, device, planned_autocast(train, device))


def check_cuda_graphs(train: TrainSpec, gpus_per_trial: float) -> None:
    """``train.cuda_graphs: on`` where the trials cannot capture: refused before anything runs."""
    try:
        resolve_cuda_graphs(train.cuda_graphs, graphs_reason(train, gpus_per_trial))
    except ValueError as error:
        raise OptionError("train.cuda_graphs", str(error).removeprefix("train.cuda_graphs: ")) from None


def device_line(train: TrainSpec, gpus_per_trial: float) -> str:
    """e.g. ``on cuda: amp auto, channels_last on (auto), cuda_graphs on (auto)``."""
    device = trial_device(train, gpus_per_trial)
    channels_last = resolve_channels_last(train.channels_last, device, planned_autocast(train, device))
    amp = train.amp if device.type == "cuda" else "off"
    reason = graphs_reason(train, gpus_per_trial)
    graphs = f"on ({train.cuda_graphs})" if reason is None else f"off: {reason}"
    return (f"on {device.type}: amp {amp}, channels_last {'on' if channels_last else 'off'} "
            f"({_choice(train.channels_last)}), cuda_graphs {graphs}")
