"""Seed 003's 17-model CIFAR-100 table, projected from measured throughput to the wall time of the
whole study (17 models x 3 seeds x 200 epochs) on 8 GPUs like the one measured. The rows, their
batch, input size and precision are read from the study spec itself (``study.py``).

The seed trained each model with DDP on 8 V100s at 8 x 128 = 1024 images per step and reports
about 50 wall-clock hours, ~400 GPU-hours, for one seed. Our study spec
(``search_spaces/studies/cifar100_backbone_comparison.yaml``) trains each trial on (a share of)
one GPU at that same global batch of 1024. Each row trains at the input size its spec row states
(``data.image_size``), resized on the device where it is not CIFAR's 32 px.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .packing import PackedRun, recommended_k, speedups

EPOCH_IMAGES = 50_000  # CIFAR-100's training split
SEEDS, EPOCHS, GPUS = 3, 200, 8
BATCH = 1024
SEED_GPU_HOURS = 400  # the report's table: ~50 h on 8 V100s for one seed
GOAL_WALL_HOURS = 1.0
MEMORY_SHARE = 0.9  # of the device's memory that packed processes may plan to fill


@dataclass(frozen=True)
class Row:
    """One row of the study, as its spec trains it. ``packs_like``: the section-2 model whose
    packing it borrows (nearest in parameters at 32 px); None: one trial per GPU (a resized row
    fills a GPU alone). ``train``: the row's optimizer and precision keys, as (key, value) pairs."""

    label: str  # the variant's name
    model: str  # our zoo's
    input_size: int = 32
    packs_like: Optional[str] = "resnet20"
    batch_size: int = BATCH
    model_options: tuple[tuple[str, Any], ...] = ()
    train: tuple[tuple[str, Any], ...] = ()

    @property
    def precision(self) -> str:
        """The row's ``train.amp``."""
        return str(dict(self.train).get("amp", "auto"))


@dataclass(frozen=True)
class RowProjection:
    label: str
    model: str
    input_size: int
    batch_size: int
    images_per_second: float  # one process alone on the device
    peak_mib: Optional[float]
    k: int  # trials packed per GPU
    packed_speedup: float  # aggregate images/s at K over one process's

    @property
    def epoch_seconds(self) -> float:
        """One CIFAR-100 epoch of one trial alone on the device."""
        return EPOCH_IMAGES / max(self.images_per_second, 1e-9)

    @property
    def gpu_seconds_per_epoch(self) -> float:
        """The device time one epoch costs when K trials share the device."""
        return self.epoch_seconds / self.packed_speedup

    @property
    def gpu_hours(self) -> float:
        """Every seed and epoch of this model."""
        return SEEDS * EPOCHS * self.gpu_seconds_per_epoch / 3600

    @property
    def trial_hours(self) -> float:
        """One trial's wall time while sharing its device with K - 1 others."""
        return EPOCHS * self.epoch_seconds * self.k / self.packed_speedup / 3600


def packing_for(row: Row, peak_mib: Optional[float], device_mib: Optional[float],
                packing: dict[str, list[PackedRun]]) -> tuple[int, float]:
    """(K, speed-up) for ``row``: its reference model's recommended K, capped so K copies of
    this model's peak memory fit the device, at the speed-up measured for that K."""
    runs = [run for run in packing.get(row.packs_like or "", []) if not run.errors]
    k = recommended_k(runs) or 1
    if peak_mib and device_mib:
        k = max(1, min(k, int(MEMORY_SHARE * device_mib // peak_mib)))
    measured = speedups(runs)
    usable = [m for m in measured if m <= k and measured[m] > 0]
    k = max(usable, default=1)
    return k, measured.get(k, 1.0) if k > 1 else 1.0


@dataclass(frozen=True)
class Projection:
    rows: list[RowProjection]
    failed: dict[str, str]  # label -> error: the totals leave these rows out
    total: int = 0  # rows of the study (``--quick`` measures a few)

    @property
    def complete(self) -> bool:
        """Every row of the study measured (not in ``--quick``, nor when one failed)."""
        return len(self.rows) == self.total

    @property
    def gpu_hours(self) -> float:
        return sum(row.gpu_hours for row in self.rows)

    @property
    def wall_hours(self) -> float:
        """With perfect scheduling: the device time spread over the GPUs, but never shorter than
        the longest single trial."""
        longest = max((row.trial_hours for row in self.rows), default=0.0)
        return max(self.gpu_hours / GPUS, longest)

    @property
    def meets_goal(self) -> bool:
        return self.wall_hours < GOAL_WALL_HOURS
