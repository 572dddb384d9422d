"""Trial turnover of a sweep with Tune's workers reused between trials against a fresh worker
process per trial: the same tiny study twice, in one Ray session, on this machine."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..study import parse_spec
from ..run.cluster import connect_ray
from ..run.sweep import run_sweep

STUDY = {
    "data": {"dataset": "synthetic", "batch_size": 64,
             "options": {"num_classes": 4, "train_size": 256, "val_size": 64, "image_size": 16}},
    "model": {"name": "resnet20"},
    "train": {"epochs": 1, "optimizer": {"name": "sgd", "lr": 0.05}},
}


@dataclass(frozen=True)
class TrialsBench:
    trials: int
    reused: float  # seconds per trial, workers reused
    fresh: float  # seconds per trial, a new worker per trial

    @property
    def ratio(self) -> float:
        return self.fresh / self.reused


def _sweep_seconds(folder: Path, name: str, trials: int, *, reuse: bool, cpus: float) -> float:
    raw = {**STUDY, "name": name, "search": {"kind": "grid", "repeats": trials},
           "resources": {"reuse_workers": reuse, "cpus_per_trial": cpus, "storage": str(folder / "ray")},
           "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"}}
    start = time.perf_counter()
    run_sweep(parse_spec(raw), echo=lambda line: None)
    return time.perf_counter() - start


def bench_trials(trials: int, *, cpus_per_trial: float = 1.0) -> TrialsBench:
    """Seconds per one-epoch trial of a ``trials``-seed synthetic study, each way. A one-trial
    sweep first warms Ray, the store and the file cache, so neither side pays for them."""
    connect_ray(None)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        _sweep_seconds(folder, "bench_warmup", 1, reuse=False, cpus=cpus_per_trial)
        fresh = _sweep_seconds(folder, "bench_fresh", trials, reuse=False, cpus=cpus_per_trial)
        reused = _sweep_seconds(folder, "bench_reused", trials, reuse=True, cpus=cpus_per_trial)
    return TrialsBench(trials, reused=reused / trials, fresh=fresh / trials)
