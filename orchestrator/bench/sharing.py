"""Section 5 of ``orchestrate bench gpu``: K trials on one GPU three ways, and what ``auto`` picks.

Per workload (ResNet-20 at the seeds' batch of 128 and at 1024) and K = 1, 2, 4, 8: K processes
time-slicing the GPU (what ``gpus_per_trial: 1/K`` gives without MPS), K processes under an MPS
daemon (started and stopped here as the sweep does), and K fused members in one process. The
MPS runs feed :mod:`.choice`'s cache, so a sweep with ``gpus_per_trial: auto`` on this GPU and
software that trains the same recipe (the setting's: no CUDA graphs) does not measure them again.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Optional

import torch

from ..run.gpu_sharing import gpu_sharing, sweep_folder
from .auto import workload_of
from .choice import MPS, PackingCache, PackingKey, choose_k
from .fused import time_fused
from .packing import PackedRun, PackingPool
from .workload import Setting, Workload

FULL_WORKLOADS = (Workload("resnet20", batch_size=128, steps=64, timed_epochs=1),
                  Workload("resnet20", batch_size=1024, steps=16, timed_epochs=1))
QUICK_WORKLOADS = (Workload("resnet20", batch_size=32, steps=2, timed_epochs=1),)


@dataclass
class SharingRow:
    """One workload at every K: aggregate images/s without MPS, with MPS, fused."""

    label: str
    plain: list[PackedRun] = field(default_factory=list)
    mps: list[PackedRun] = field(default_factory=list)  # empty where MPS could not start
    fused: list[PackedRun] = field(default_factory=list)
    auto_gpus_k: Optional[int] = None  # gpus_per_trial: auto -> 1/K
    auto_fused_k: Optional[int] = None  # fused_trials: auto -> K


@dataclass
class SharingSection:
    rows: list[SharingRow] = field(default_factory=list)
    mps_note: str = ""  # the one line of why MPS rows are missing, or which daemon ran them


def label(workload: Workload) -> str:
    return f"{workload.model} b{workload.batch_size}"


def _packed(workloads: tuple[Workload, ...], ks: tuple[int, ...], device: torch.device,
            setting: Setting) -> list[list[PackedRun]]:
    with PackingPool(max(ks), device) as pool:
        return [[pool.run(workload, setting, k) for k in ks] for workload in workloads]


def mps_key(device: torch.device, workload: Workload, setting: Setting) -> PackingKey:
    """The key a sweep's ``gpus_per_trial: auto`` reads for what these MPS runs trained: named as
    ``auto`` names a recipe (e.g. ``bf16+channels_last``, not the setting's ``amp+channels_last``),
    and under MPS though the daemon has stopped by the time it is written."""
    measured_as, precision = workload_of(workload.config(setting, device), device)
    return PackingKey.here(device, model=measured_as.model, input_size=measured_as.input_size or measured_as.stored_size,
                           batch_size=measured_as.batch_size, precision=precision.name, sharing=MPS)


def _cache(device: torch.device, workload: Workload, setting: Setting, runs: list[PackedRun],
           cache: Optional[PackingCache]) -> None:
    if cache is not None and runs and all(not run.errors for run in runs):
        cache.put(mps_key(device, workload, setting), runs)


def measure_sharing(workloads: tuple[Workload, ...], ks: tuple[int, ...], device: torch.device, setting: Setting,
                    *, cache: Optional[PackingCache] = None) -> SharingSection:
    """Every workload at every K, time-sliced, under MPS and fused; and each ``auto`` choice."""
    plain = _packed(workloads, ks, device, setting)
    result = SharingSection()
    # The sweep's folder for its daemon: one this bench leaves behind, killed, is stopped by the next.
    with sweep_folder(lambda line: print(line, file=sys.stderr, flush=True)) as workdir:
        with gpu_sharing("mps", gpus_per_trial=0.5, cuda=device.type == "cuda", workdir=workdir) as shared:
            mps = _packed(workloads, ks, device, setting) if shared.packed else [[] for _ in workloads]
            result.mps_note = shared.message or "MPS needs CUDA: no MPS rows on this device"
    device_mib = torch.cuda.get_device_properties(device).total_memory / 2**20 if device.type == "cuda" else None
    for workload, plain_runs, mps_runs in zip(workloads, plain, mps):
        fused = [time_fused(workload, setting, device, k) for k in ks]
        _cache(device, workload, setting, mps_runs, cache)
        # Without MPS a sweep runs one trial per GPU, never the time-sliced packing.
        result.rows.append(SharingRow(label(workload), plain_runs, mps_runs, fused,
                                      choose_k(mps_runs, device_mib) if mps_runs else 1,
                                      choose_k(fused, device_mib)))
    return result
