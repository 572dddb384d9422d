"""Packing bookkeeping: a dead worker is an error of its run (never a hang), the recommended K,
and the seed-003 projection's arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from orchestrator.bench import packing
from orchestrator.bench.packing import PackedRun, PackingPool, recommended_k, speedups
from orchestrator.bench.projection import GPUS, Projection, Row, RowProjection, packing_for
from orchestrator.bench.workload import SETTINGS, Workload


@dataclass
class DeadProcess:
    exitcode: int = 1

    def is_alive(self) -> bool:
        return False


def test_a_worker_that_died_is_reported_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packing, "POLL_S", 0.01)
    pool = PackingPool(2, torch.device("cpu"))  # never entered: its workers "died" at start
    pool.processes = [DeadProcess(), DeadProcess(exitcode=-9)]
    run = pool.run(Workload(), SETTINGS[0], 2)
    assert run.images_per_second == 0 and run.errors == ["worker 0 exited with code 1", "worker 1 exited with code -9"]


RESNET20 = [PackedRun(1, 1000.0), PackedRun(2, 1800.0), PackedRun(4, 2600.0), PackedRun(8, 2700.0)]


def test_recommended_k_is_the_smallest_within_ten_percent_of_the_best() -> None:
    assert speedups(RESNET20) == {1: 1.0, 2: 1.8, 4: 2.6, 8: 2.7}
    assert recommended_k(RESNET20) == 4
    assert recommended_k([*RESNET20[:3], PackedRun(8, 9999.0, errors=["worker 3: out of memory"])]) == 4
    assert recommended_k([]) is None


def test_packing_for_a_row_borrows_its_reference_and_fits_memory() -> None:
    runs = {"resnet20": RESNET20}
    small = Row("resnet_20", "resnet20")
    assert packing_for(small, 1_000.0, 80_000.0, runs) == (4, 2.6)
    assert packing_for(small, 30_000.0, 80_000.0, runs) == (2, 1.8)  # 0.9 x 80 GB holds two
    assert packing_for(small, None, None, runs) == (4, 2.6)  # off CUDA: no memory cap
    assert packing_for(Row("mlp_mixer_b16", "mlp_mixer_b16", 224, None), 1_000.0, 80_000.0, runs) == (1, 1.0)


def test_projection_spreads_device_time_over_the_gpus_but_not_below_the_longest_trial() -> None:
    packed = RowProjection("resnet_20", "resnet20", 32, 1024, 10_000.0, None, k=4, packed_speedup=2.0)
    assert packed.epoch_seconds == pytest.approx(5.0)
    assert packed.gpu_seconds_per_epoch == pytest.approx(2.5)
    assert packed.gpu_hours == pytest.approx(3 * 200 * 2.5 / 3600)
    assert packed.trial_hours == pytest.approx(200 * 5.0 * 4 / 2.0 / 3600)  # sharing with 3 others
    many = Projection([packed] * 40, {})
    assert many.wall_hours == pytest.approx(40 * packed.gpu_hours / GPUS)
    one = Projection([packed], {})
    assert one.wall_hours == pytest.approx(packed.trial_hours) and not one.complete
    assert one.meets_goal is (packed.trial_hours < 1.0)
