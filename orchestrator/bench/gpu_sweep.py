"""One study through ``orchestrate sweep`` on one device, in each arrangement trials can share it.

The arrangements: one trial per device (``gpus_per_trial: 1``), K trials packed under MPS
(``gpus_per_trial: 1/K``, ``gpu_sharing: mps``), and K fused in one process (``fused_trials: K``);
on request also K packed time-sliced (``gpu_sharing: time_slice``: the 0.92x that motivates MPS)
and ``gpus_per_trial: auto`` (the sweep measures and picks K itself, as the shipped specs ask).
Each runs as a whole command with its own Ray and its own MLflow store, so its wall time holds all
a user waits for; the figure is trials per hour, over the wall time and over the trials phase
alone (the first trial run's start to the last one's end, as MLflow recorded them: what remains
once Ray and the command have started), beside one trial per device.

On a CPU the device is the machine's CPUs: one trial per device takes them all, a packed trial
1/K of them, a fused group all of them, and there is no GPU to time-slice. That checks the bench
end to end; the figures that matter are a GPU's.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from . import process
from ..tracking.names import GPU_SHARING_TAG, OUTCOME_OF_STATUS
from ..tracking.reader import latest_sweep_run, read_client, trial_runs

STUDY = "bench_gpu_sweep"
LEARNING_RATES = (0.05, 0.1, 0.2, 0.4)  # shape-free values the fused members differ in, as a study's do
ONE_PER_DEVICE = "one trial per device"
OPTIONAL = ("time-slice", "auto")  # arrangements measured on request only (CUDA)


@dataclass(frozen=True)
class Arrangement:
    name: str
    resources: dict[str, Any]  # the spec's resources section for this arrangement


@dataclass(frozen=True)
class Arranged:
    """One arrangement's sweep: its wall time, its trial runs' outcome, what the sweep recorded."""

    name: str
    wall: float = 0.0  # seconds, command start to exit
    trials_phase: float = 0.0  # seconds, first trial run's start to the last one's end
    finished: int = 0
    failed: int = 0
    sharing: str = ""  # the parent run's gpu_sharing mode
    error: str = ""  # why the sweep did not run to its end

    @property
    def per_hour(self) -> float:
        return 3600 * self.finished / self.wall if self.wall else 0.0

    @property
    def phase_per_hour(self) -> float:
        return 3600 * self.finished / self.trials_phase if self.trials_phase else 0.0


def arrangements(device: str, members: int, *, cpus: int, also: tuple[str, ...] = ()) -> list[Arrangement]:
    """The arrangements measured on ``device`` with K = ``members``, with those of ``also`` (of
    ``OPTIONAL``); on CUDA each trial (or fused group) keeps one CPU, on a CPU the device is
    ``cpus`` cores and there is nothing to time-slice or measure for ``auto``."""
    packed_name = f"packed 1/{members}"
    if device == "cuda":
        whole, share = {"cpus_per_trial": 1, "gpus_per_trial": 1}, {"cpus_per_trial": 1, "gpus_per_trial": 1 / members}
        packed = [Arrangement(f"{packed_name}, MPS", {**share, "gpu_sharing": "mps"})]
        if "time-slice" in also:
            packed.append(Arrangement(f"{packed_name}, time-sliced", {**share, "gpu_sharing": "time_slice"}))
        if "auto" in also:
            packed.append(Arrangement("gpus_per_trial auto", {"cpus_per_trial": 1, "gpus_per_trial": "auto"}))
    else:
        whole = {"cpus_per_trial": cpus, "gpus_per_trial": 0}
        packed = [Arrangement(packed_name, {"cpus_per_trial": cpus / members, "gpus_per_trial": 0})]
    return [Arrangement(ONE_PER_DEVICE, whole), *packed,
            Arrangement(f"fused {members}", {**whole, "fused_trials": members})]


def study(trials: int, epochs: int, *, device: str, batch_size: int, train_size: int,
          resources: dict[str, Any], folder: Path) -> dict[str, Any]:
    """ResNet-20 on synthetic CIFAR-shaped data at the seeds' recipe (crop + flip, SGD, cosine):
    ``trials`` = 4 learning rates x seeds, the device's default precision."""
    return {
        "name": STUDY,
        "data": {"dataset": "synthetic", "batch_size": batch_size, "augment": "standard",
                 "options": {"num_classes": 10, "train_size": train_size, "val_size": max(batch_size, train_size // 5),
                             "image_size": 32}},
        "model": {"name": "resnet20"},
        "train": {"epochs": epochs, "device": device,
                  "optimizer": {"name": "sgd", "lr": LEARNING_RATES[0], "momentum": 0.9, "weight_decay": 5e-4},
                  "scheduler": {"name": "cosine"}},
        "search": {"kind": "grid", "factors": {"train.optimizer.lr": list(LEARNING_RATES)},
                   "repeats": trials // len(LEARNING_RATES)},
        "resources": {**resources, "storage": str(folder / "ray")},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
    }


def read_outcome(name: str, wall: float, uri: str) -> Arranged:
    """What the arrangement's store holds: its trial runs' statuses and span, the sharing mode."""
    client = read_client(uri)
    parent = latest_sweep_run(client, STUDY)
    if parent is None:
        return Arranged(name, wall, error="no sweep run in the store")
    runs = list(trial_runs(client, parent.info.experiment_id))
    ends = [run.info.end_time for run in runs if run.info.end_time]
    phase = (max(ends) - min(run.info.start_time for run in runs)) / 1000 if ends else 0.0
    outcomes = [OUTCOME_OF_STATUS.get(run.info.status) for run in runs]
    return Arranged(name, wall, phase, finished=outcomes.count("finished"), failed=outcomes.count("failed"),
                    sharing=parent.data.tags.get(GPU_SHARING_TAG, ""))


def run_arrangement(arrangement: Arrangement, spec: dict[str, Any], folder: Path) -> Arranged:
    """``orchestrate sweep`` of ``spec`` in ``folder`` (its output kept in ``sweep.log`` there)."""
    folder.mkdir(parents=True)
    spec_path = folder / "study.json"
    spec_path.write_text(json.dumps(spec))
    log = folder / "sweep.log"
    try:
        done = process.run([sys.executable, "-m", "orchestrator.cli", "sweep", str(spec_path)], folder)
    except RuntimeError as exc:  # one arrangement failing leaves the others to measure
        log.write_text(str(exc))
        return Arranged(arrangement.name, error=str(exc).splitlines()[-1][:300])
    log.write_text(done.stdout)
    return read_outcome(arrangement.name, done.wall, spec["tracking"]["uri"])


def check_trials(trials: int) -> None:
    """The study is the learning rates x seeds: ``trials`` must split into them."""
    if trials % len(LEARNING_RATES):
        raise ValueError(f"--trials {trials}: allowed: a multiple of {len(LEARNING_RATES)} "
                         f"({len(LEARNING_RATES)} learning rates x seeds)")


def bench_gpu_sweep(trials: int, epochs: int, *, device: str, members: int, batch_size: int, train_size: int,
                    folder: Path, also: tuple[str, ...] = (),
                    on_start: Callable[[Arrangement], None] = lambda arrangement: None,
                    on_row: Callable[[Arranged], None] = lambda row: None) -> list[Arranged]:
    """Every arrangement in turn, one trial per device first (the unit of the ratios), each in its
    own subfolder of ``folder``; ``on_start`` sees each as it starts and ``on_row`` as it
    finishes, so a cut-short run keeps what it measured."""
    check_trials(trials)
    cpus = len(os.sched_getaffinity(0))
    rows = []
    for index, arrangement in enumerate(arrangements(device, members, cpus=cpus, also=also)):
        where = folder / f"{index}"
        spec = study(trials, epochs, device=device, batch_size=batch_size, train_size=train_size,
                     resources=arrangement.resources, folder=where)
        on_start(arrangement)
        rows.append(run_arrangement(arrangement, spec, where))
        on_row(rows[-1])
    return rows


def ratio(row: Arranged, unit: Optional[Arranged], attribute: str) -> Optional[float]:
    """``row``'s trials per hour (``attribute``) over one trial per device's, None without both."""
    base = getattr(unit, attribute) if unit is not None else 0.0
    return getattr(row, attribute) / base if base and getattr(row, attribute) else None


HEADER = (f"{'arrangement':<24} {'wall s':>7} {'done':>5} {'failed':>6} {'trials/h':>9} {'x one':>6} "
          f"{'phase s':>8} {'trials/h':>9} {'x one':>6}  sharing")


def format_row(row: Arranged, unit: Optional[Arranged]) -> str:
    """One line of the table; the ratios are to ``unit`` (one trial per device)."""
    if row.error:
        return f"{row.name:<24} error: {row.error}"
    whole, phase = ratio(row, unit, "per_hour"), ratio(row, unit, "phase_per_hour")
    return (f"{row.name:<24} {row.wall:7.1f} {row.finished:5d} {row.failed:6d} {row.per_hour:9.0f} "
            f"{'-' if whole is None else f'{whole:.2f}':>6} {row.trials_phase:8.1f} {row.phase_per_hour:9.0f} "
            f"{'-' if phase is None else f'{phase:.2f}':>6}  {row.sharing or '-'}")


def to_dict(rows: list[Arranged]) -> list[dict[str, Any]]:
    return [{**asdict(row), "per_hour": row.per_hour, "phase_per_hour": row.phase_per_hour} for row in rows]

