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
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


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


@dataclass(frozen=True)
class Side:
    name: str
    wall: float  # seconds, command start to exit
    startup: float  # seconds, command start to the first trial's start


@dataclass(frozen=True)
class SweepBench:
    trials: int
    slots: int
    fit_seconds: float  # one trial's Trainer.fit() with the machine to itself
    sides: list[Side]

    def efficiency(self, side: Side) -> float:
        return self.trials * self.fit_seconds / (self.slots * side.wall)

    def overhead(self, side: Side) -> float:
        """Seconds per trial, per slot, beyond its compute and the fixed start-up."""
        return (self.slots * (side.wall - side.startup) - self.trials * self.fit_seconds) / self.trials


def subprocess_env() -> dict[str, str]:
    """This checkout first on the path of a bench's commands, and so of their Ray workers
    (which inherit it): an installed copy of the package elsewhere must not be measured."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _command(argv: list[str], folder: Path) -> tuple[float, float, str]:
    """(start time, wall seconds, stdout) of one side run as its own process in ``folder``."""
    start = time.time()
    done = subprocess.run(argv, cwd=folder, env=subprocess_env(), capture_output=True, text=True)
    wall = time.time() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:4])} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return start, wall, done.stdout


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


def _side(name: str, argv: list[str], folder: Path) -> Side:
    """Run one side in its own ``folder``; its first trial's start comes from Tune's results
    there, or (plain processes have no Tune) from the line the side prints."""
    folder.mkdir()
    start, wall, out = _command(argv, folder)
    printed = json.loads(out.splitlines()[-1]) if out.strip().startswith("{") else {}
    first = printed.get("first_step") or first_trial_start(folder)
    return Side(name, wall, first - start)


def bench_sweep(trials: int, epochs: int, *, slots: int = 2, train_size: int = 1024) -> SweepBench:
    """Measure every side in turn, in scratch folders (nothing is left behind)."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        spec_path = root / "study.json"
        spec_path.write_text(json.dumps(study(trials, epochs, train_size=train_size, slots=slots,
                                              folder=root / "orchestrate")))
        sides = [sys.executable, "-m", "orchestrator.bench.sides"]
        (root / "alone").mkdir()
        _, _, out = _command([*sides, "alone", str(spec_path)], root / "alone")
        fit_seconds = json.loads(out.splitlines()[-1])["fit_seconds"]
        measured = [
            _side("pure compute", [*sides, "ideal", str(spec_path), "--slots", str(slots)], root / "ideal"),
            _side("bare Ray Tune + MLflowLoggerCallback",
                  [*sides, "tune", str(spec_path), "--slots", str(slots), "--folder", str(root / "tune")], root / "tune"),
            _side("orchestrate sweep", [sys.executable, "-m", "orchestrator.cli", "sweep", str(spec_path)],
                  root / "orchestrate"),
        ]
    return SweepBench(trials, slots, fit_seconds, measured)
