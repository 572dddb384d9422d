"""``gpus_per_trial: auto``: how many trials per GPU, chosen from measured throughput and memory.

Each distinct (model, input size, batch, precision) trains at K = 1, 2, 4, 8 processes on one
GPU (``packing.PackingPool``, what the bench's packing section runs); ``auto`` takes the smallest
K within 10% of the best aggregate images/s among the K whose processes fit in the GPU's memory
with headroom. Measurements are cached per GPU model, torch/CUDA versions and how the processes
shared the GPU (under MPS or time-sliced) in one JSON file, so a re-run of the study (or another
study of the same shapes) does not measure again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from ..cache import cache_dir
from ..run import gpu_sharing
from .packing import PackedRun, recommended_k

KS = (1, 2, 4, 8)
MEMORY_HEADROOM = 0.85  # the share of device memory K processes may plan to use
CONTEXT_MIB = 500.0  # a CUDA context per process, beyond what torch's allocator reports
CACHE_FILE = "packing.json"
MPS, TIME_SLICED = "mps", "time_slice"  # how K processes on one GPU share it


def fits(run: PackedRun, device_mib: Optional[float], *, headroom: float = MEMORY_HEADROOM) -> bool:
    """Whether the run's processes (K packed ones, or one fused) with their peaks and a context
    each fit ``headroom`` of the device."""
    if device_mib is None or not run.peak_mib:
        return True  # off CUDA, or memory unmeasured: throughput decides alone
    return sum(run.peak_mib) + CONTEXT_MIB * len(run.peak_mib) <= headroom * device_mib


def choose_k(runs: list[PackedRun], device_mib: Optional[float], *, within: float = 0.9,
             headroom: float = MEMORY_HEADROOM) -> Optional[int]:
    """The smallest K within ``within`` of the best aggregate of the runs that fit in memory
    (None when none ran cleanly). More processes than that cost memory and per-trial latency
    for the last few percent."""
    return recommended_k([run for run in runs if fits(run, device_mib, headroom=headroom)], within=within)


@dataclass(frozen=True)
class PackingKey:
    """What a packing measurement depends on: the GPU, the software, and the workload's shapes."""

    gpu: str
    torch: str
    cuda: str
    model: str
    input_size: int
    batch_size: int
    precision: str  # as the step runs: e.g. bf16+channels_last+graphs
    options: str = ""  # the model's options that change its shapes (a width, a kernel size)
    sharing: str = ""  # on CUDA: MPS or TIME_SLICED (0.92x of one trial where MPS gives 6x)

    @classmethod
    def here(cls, device: torch.device, *, model: str, input_size: int, batch_size: int,
             precision: str, options: str = "", sharing: Optional[str] = None) -> PackingKey:
        """The key of a measurement made now on ``device``; ``sharing`` defaults to how processes
        started now would share it (:func:`sharing_here`)."""
        if device.type != "cuda":
            return cls("cpu", torch.__version__, str(torch.version.cuda), model, input_size, batch_size,
                       precision, options)
        return cls(torch.cuda.get_device_name(device), torch.__version__, str(torch.version.cuda), model,
                   input_size, batch_size, precision, options, sharing or sharing_here())

    @property
    def text(self) -> str:
        return "|".join(str(value) for value in asdict(self).values())


def sharing_here() -> str:
    """How processes started now share a GPU: under the MPS daemon their environment finds, else
    time-sliced. A measurement without a daemon (``--dry-run --measure``, a ``time_slice`` sweep)
    must never give an MPS sweep its K from the cache."""
    found, _ = gpu_sharing.running_daemon(dict(os.environ), gpu_sharing.find_control())
    return MPS if found is not None else TIME_SLICED


class PackingCache:
    """Measured runs per :class:`PackingKey`, in ``folder/packing.json``."""

    def __init__(self, folder: Optional[Path] = None) -> None:
        self.path = Path(folder or cache_dir()) / CACHE_FILE

    def _load(self) -> dict[str, list[dict]]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}  # a missing or torn file measures again

    def get(self, key: PackingKey) -> Optional[list[PackedRun]]:
        found = self._load().get(key.text)
        return None if found is None else [PackedRun(**run) for run in found]

    def put(self, key: PackingKey, runs: list[PackedRun]) -> None:
        entries = self._load()
        entries[key.text] = [asdict(run) for run in runs]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(entries, indent=1))
        partial.replace(self.path)  # atomic: a reader never sees half a file


def out_of_memory(error: str) -> bool:
    """Whether a run's error is the device running out of memory (torch's OutOfMemoryError, or
    the older RuntimeError that says so)."""
    return "OutOfMemoryError" in error or "out of memory" in error.lower()


def lasting(runs: list[PackedRun]) -> bool:
    """Whether the runs say something a re-run would say again: one trial ran cleanly, and every
    larger K that failed ran out of memory (the same GPU, software and shapes run out again). A
    crash, a silent worker or a failed single trial may be this run's bad luck: measure again."""
    single = [run for run in runs if run.k == 1]
    return bool(single) and not single[0].errors and all(out_of_memory(error) for run in runs for error in run.errors)


def measured(key: PackingKey, measure: Callable[[], list[PackedRun]],
             cache: PackingCache) -> tuple[list[PackedRun], bool]:
    """(runs, True) from the cache, else (``measure()``, False), cached when :func:`lasting`."""
    cached = cache.get(key)
    if cached is not None:
        return cached, True
    runs = measure()
    if lasting(runs):
        cache.put(key, runs)
    return runs, False
