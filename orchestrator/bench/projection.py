"""Seed 003's 17-model CIFAR-100 table, projected from measured throughput to the wall time of the
whole study (17 models x 3 seeds x 200 epochs) on 8 GPUs like the one measured.

The seed trained each model with DDP on 8 V100s at 8 x 128 = 1024 images per step and reports
about 50 wall-clock hours, ~400 GPU-hours, for one seed. Our study spec
(``search_spaces/studies/cifar100_backbone_comparison.yaml``) trains each trial on (a share of)
one GPU at that same global batch of 1024, so that is the batch measured here. Models the seed
fine-tuned from ImageNet weights train at their weights' input size, CIFAR's 32 px resized on
the device, as the trainer does for ``pretrained: true``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .packing import PackedRun, recommended_k, speedups

EPOCH_IMAGES = 50_000  # CIFAR-100's training split
SEEDS, EPOCHS, GPUS = 3, 200, 8
BATCH = 1024
SEED_GPU_HOURS = 400  # the report's table: ~50 h on 8 V100s for one seed
GOAL_WALL_HOURS = 1.0
MEMORY_SHARE = 0.9  # of the device's memory that packed processes may plan to fill


@dataclass(frozen=True)
class Row:
    """One model of the table. ``packs_like``: the section-2 model whose packing it borrows
    (similar size at 32 px); None: one trial per GPU (224-px fine-tunes fill a GPU alone)."""

    label: str  # the seed's name
    model: str  # our zoo's
    input_size: int = 32
    packs_like: Optional[str] = "resnet20"


SEED_003 = (
    Row("ghostnet_100", "ghostnet_100", packs_like="densenet121"),
    Row("convnext_tiny_timm", "timm/convnext_tiny", 224, None),
    Row("coatnet_0", "coatnet_0", 224, None),
    Row("resnest50d", "resnest50d", 224, None),
    Row("cspresnet50", "cspresnet50", 256, None),  # its timm weights' input size
    Row("hornet_tiny", "hornet_tiny", packs_like="densenet121"),  # our zoo's, at 32 px
    Row("mlp_mixer_b16", "mlp_mixer_b16", 224, None),
    Row("segnext_mscan_tiny", "segnext_mscan_tiny", packs_like="resnet56"),
    Row("resnet_56", "resnet56", packs_like="resnet56"),
    Row("eca_resnet_32", "eca_resnet32"),
    Row("resnet_32", "resnet32"),
    Row("eca_resnet_20", "eca_resnet20"),
    Row("resnet_20", "resnet20"),
    Row("ghost_resnet_32", "ghost_resnet32"),
    Row("ghost_resnet_20", "ghost_resnet20"),
    Row("mlp_mixer_tiny", "mlp_mixer_tiny", packs_like="resnet56"),
    Row("convnext_tiny", "convnext_tiny"),
)


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

    @property
    def complete(self) -> bool:
        """Every model of the table measured (not in ``--quick``, nor when one failed)."""
        return len(self.rows) == len(SEED_003)

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
