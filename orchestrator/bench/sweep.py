"""Sweep efficiency: the same study three ways on this machine, each as a whole command.

efficiency = trials x (seconds of ``Trainer.fit()`` for one trial alone) / (slots x wall time).
The sides: plain processes running ``Trainer.fit()`` ``slots`` at a time (pure compute), a
hand-written Ray Tune script with Ray's ``MLflowLoggerCallback`` (the baseline), and
``orchestrate sweep``. Each side's wall time splits into a fixed start-up (command start to the
first trial's start) and a steady overhead per trial (what is left after the compute, spread
over the trials as the slots see it).
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from . import process

def study(trials: int, epochs: int, *, train_size: int, slots: int, folder: Path) -> dict[str, Any]:
    """ResNet-20 on synthetic CIFAR-shaped data, ``trials`` seeds of one configuration."""
    return {
        "name": "bench_sweep",
        "data": {"dataset": "synthetic", "batch_size": 64,
                 "options": {"num_classes": 10, "train_size": train_size, "val_size": train_size // 4,
                             "image_size": 32}},
        "model": {"name": "resnet20"},
        "train": {"epochs": epochs, "device": "cpu",
                  "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}},
        "search": {"kind": "grid", "repeats": trials},
        "resources": {"cpus_per_trial": 1, "max_concurrent": slots, "storage": str(folder / "ray")},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
    }


BASELINE, OURS = "bare Ray Tune + MLflowLoggerCallback", "orchestrate sweep"
FLOOR = "Ray Tune alone, trials doing nothing"


@dataclass(frozen=True)
class Side:
    name: str
    wall: float  # seconds, command start to exit
    startup: float  # seconds, command start to the first trial's start
    peak_mb: float  # the command's own process (the sweep driver), peak RSS
    trains: bool = True  # False: its trials do nothing, so it has no efficiency


@dataclass(frozen=True)
class SweepBench:
    trials: int
    slots: int
    fit_seconds: float  # one trial's Trainer.fit() with the machine to itself
    sides: list[Side]

    def side(self, name: str) -> Side | None:
        return next((side for side in self.sides if side.name == name), None)

    def efficiency(self, side: Side) -> Optional[float]:
        return self.trials * self.fit_seconds / (self.slots * side.wall) if side.trains else None

    def overhead(self, side: Side) -> float:
        """Seconds per trial, per slot, beyond its compute and the fixed start-up."""
        compute = self.trials * self.fit_seconds if side.trains else 0.0
        return (self.slots * (side.wall - side.startup) - compute) / self.trials


def first_trial_start(storage: Path) -> float:
    """When the earliest Tune trial under ``storage`` started: its first result's time less the
    seconds that result took (Tune's ``timestamp`` is whole seconds, so this is to about 1 s)."""
    starts = []
    for path in storage.rglob("result.json"):
        with path.open() as lines:
            first = json.loads(lines.readline())
        starts.append(first["timestamp"] - first["time_this_iter_s"])
    if not starts:
        raise RuntimeError(f"no Tune results under {storage}")
    return min(starts)


def _side(name: str, argv: list[str], folder: Path, *, trains: bool = True) -> Side:
    """Run one side in its own ``folder``; its first trial's start comes from Tune's results
    there, or (plain processes have no Tune) from the line the side prints."""
    folder.mkdir()
    done = process.run(argv, folder)
    printed = json.loads(done.stdout.splitlines()[-1]) if done.stdout.strip().startswith("{") else {}
    first = printed.get("first_step") or first_trial_start(folder)
    return Side(name, done.wall, first - done.start, done.peak_mb, trains)


def bench_sweep(trials: int, epochs: int, *, slots: int = 2, train_size: int = 1024,
                baseline: bool = True) -> SweepBench:
    """Measure every side in turn, in scratch folders (nothing is left behind); without
    ``baseline`` the bare Tune side is skipped (long sweeps, where the ideal and the floor matter)."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        spec_path = root / "study.json"
        spec_path.write_text(json.dumps(study(trials, epochs, train_size=train_size, slots=slots,
                                              folder=root / "orchestrate")))
        sides = [sys.executable, "-m", "orchestrator.bench.sides"]
        (root / "alone").mkdir()
        alone = process.run([*sides, "alone", str(spec_path)], root / "alone")
        fit_seconds = json.loads(alone.stdout.splitlines()[-1])["fit_seconds"]
        measured = [_side("pure compute", [*sides, "ideal", str(spec_path), "--slots", str(slots)], root / "ideal"),
                    _side(FLOOR, [*sides, "floor", str(spec_path), "--slots", str(slots), "--folder", str(root / "floor")],
                          root / "floor", trains=False)]
        if baseline:
            measured.append(_side(BASELINE, [*sides, "tune", str(spec_path), "--slots", str(slots),
                                             "--folder", str(root / "tune")], root / "tune"))
        measured.append(_side(OURS, [sys.executable, "-m", "orchestrator.cli", "sweep", str(spec_path)],
                              root / "orchestrate"))
    return SweepBench(trials, slots, fit_seconds, measured)
