"""Fused trials in the bench: K copies of a workload (seeds 0..K-1) trained as one fused model in
one process, timed as the packing section times K processes: aggregate images/s over the fused
epochs after one untimed warm-up epoch."""

from __future__ import annotations

from typing import Optional

import torch

from ..data import DatasetTensors
from ..train.fused import FusedTrainer
from .packing import PackedRun
from .workload import Setting, Workload, peak_mib, reset_peak


def time_fused(workload: Workload, setting: Setting, device: torch.device, k: int,
               dataset: Optional[DatasetTensors] = None) -> PackedRun:
    """K members of ``workload`` fused; a failure (out of memory at large K) is the run's error."""
    reset_peak(device)
    try:
        configs = [workload.config(setting, device)] * k
        fused = FusedTrainer.from_configs(configs, seeds=list(range(k)),
                                          dataset=dataset if dataset is not None else workload.dataset())
        fused.run_epoch()  # warm-up: allocator, cuDNN autotuner
        seconds = 0.0
        for _ in range(workload.timed_epochs):
            epoch = fused.run_epoch()
            seconds += max(metrics["time/epoch_seconds"] for metrics in epoch.values())
    except Exception as error:  # noqa: BLE001  (a K that does not fit is a finding of the run)
        return PackedRun(k, 0.0, errors=[f"{type(error).__name__}: {error}".splitlines()[0][:300]])
    peak = peak_mib(device)
    images = k * workload.timed_epochs * workload.train_images
    return PackedRun(k, images / max(seconds, 1e-9), [peak] if peak is not None else [])
