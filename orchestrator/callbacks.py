"""Ray Tune callbacks that run in the sweep driver: MLflow logging and the progress display.

Ray ships ``MLflowLoggerCallback``, but it creates one run per Tune trial with no parent, no
stable (configuration, seed) identity and one write per metric; ours keys runs by plan, batches
each epoch into one write, and records pruned and failed trials as such.
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ray.tune import Callback
from ray.tune.experiment import Trial

from .space import TrialPlan
from .tracking import TAG, StudyTracker
from .train.trainer import EPOCH_METRICS

PlanLookup = Callable[[dict[str, Any]], TrialPlan]
SUMMARY_FROM = {
    "summary/best_top1": "val/best_top1",
    "summary/top5_at_best": "val/top5_at_best",
    "summary/best_epoch": "val/best_epoch",
    "summary/params": "model/params",
    "summary/train_seconds": "time/train_seconds",
    "summary/epochs": "epoch",
}


def error_text(trial: Trial) -> str:
    """The trial's traceback text. Tune writes it locally first (``error_file``) and syncs it to
    storage later, so ``Trial.get_error`` can still be empty when ``on_trial_error`` runs."""
    if trial.error_file and Path(trial.error_file).is_file():
        return Path(trial.error_file).read_text()
    return str(trial.get_error() or "unknown error")


def first_line(error: Optional[BaseException | str]) -> str:
    """The most specific line of an error, for a tag and a one-line summary."""
    text = str(error or "unknown error").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else text)[:500]


@dataclass
class SweepTally:
    """What happened to the trials of one sweep, shared by the callbacks."""

    total: Optional[int]
    finished: int = 0
    pruned: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    best: Optional[tuple[float, str]] = None


class MlflowTrialLogger(Callback):
    """Creates each trial's run on start, logs every epoch in one batch, closes it with its outcome."""

    def __init__(self, tracker: StudyTracker, plan_for: PlanLookup, *, epochs: int, metric: str) -> None:
        self.tracker = tracker
        self.plan_for = plan_for
        self.epochs = epochs
        self.metric = metric
        self.run_ids: dict[str, str] = {}

    def _run_id(self, trial: Trial) -> str:
        if trial.trial_id not in self.run_ids:
            plan = self.plan_for(trial.config)
            self.run_ids[trial.trial_id] = self.tracker.start_trial(plan.to_dict())
        return self.run_ids[trial.trial_id]

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._run_id(trial)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        metrics = {k: result[k] for k in EPOCH_METRICS if k in result and k != "epoch"}
        self.tracker.log_metrics(self._run_id(trial), metrics, step=int(result["epoch"]))

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        last = trial.last_result or {}
        summary = {name: last[key] for name, key in SUMMARY_FROM.items() if key in last}
        pruned = int(last.get("epoch", 0)) < self.epochs
        self.tracker.finish_trial(
            self._run_id(trial),
            status="KILLED" if pruned else "FINISHED",
            summary=summary,
            tags={f"{TAG}outcome": "pruned" if pruned else "finished"},
        )

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        error = error_text(trial)
        self.tracker.finish_trial(
            self._run_id(trial),
            status="FAILED",
            summary={},
            tags={f"{TAG}outcome": "failed", f"{TAG}failure": first_line(error)},
            error=error,
        )


class ProgressPrinter(Callback):
    """One line per epoch and per trial outcome, with a running tally and the best so far."""

    def __init__(self, tally: SweepTally, plan_for: PlanLookup, *, epochs: int, metric: str,
                 mode: str, echo: Callable[[str], None] = print) -> None:
        self.tally = tally
        self.plan_for = plan_for
        self.epochs = epochs
        self.metric = metric
        self.sign = 1 if mode == "max" else -1
        self.echo = echo
        self.start = time.monotonic()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks with its experiment state; the output function may be bound
        # to a terminal or a test's capture, so a restored printer prints to stdout.
        return {k: v for k, v in self.__dict__.items() if k != "echo"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.echo = print

    def _name(self, trial: Trial) -> str:
        plan = self.plan_for(trial.config)
        return f"{plan.label} s{plan.seed}"

    def _emit(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.start)
        tally = self.tally
        done = tally.finished + tally.pruned + len(tally.failed)
        total = f"/{tally.total}" if tally.total else ""
        best = f" | best {self.metric} {tally.best[0]:.2f} ({tally.best[1]})" if tally.best else ""
        status = f"[{elapsed // 60:02d}:{elapsed % 60:02d} {done}{total} done, {len(tally.running)} running, {len(tally.failed)} failed{best}]"
        self.echo(f"{status} {text}")

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.tally.running.add(trial.trial_id)
        self._emit(f"started {self._name(trial)}")

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        value = result.get(self.metric)
        self._emit(f"{self._name(trial)} epoch {int(result['epoch'])}/{self.epochs} {self.metric} {value:.2f}")

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.tally.running.discard(trial.trial_id)
        last = trial.last_result or {}
        pruned = int(last.get("epoch", 0)) < self.epochs
        best_value = last.get("val/best_top1" if self.metric == "val/top1" else self.metric)
        if pruned:
            self.tally.pruned += 1
        else:
            self.tally.finished += 1
        if best_value is not None and (self.tally.best is None or self.sign * best_value > self.sign * self.tally.best[0]):
            self.tally.best = (best_value, self._name(trial))
        self._emit(f"{'pruned' if pruned else 'finished'} {self._name(trial)}")

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.tally.running.discard(trial.trial_id)
        reason = first_line(error_text(trial))
        self.tally.failed.append((self._name(trial), reason))
        self._emit(f"FAILED {self._name(trial)}: {reason}")
