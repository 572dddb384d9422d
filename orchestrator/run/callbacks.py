"""Ray Tune callbacks that run in the sweep driver: each trial's plan, outcome and error text, the
retry rule for failures, and the progress display (MLflow logging: :mod:`.trial_logger`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ray.tune import Callback
from ray.tune.experiment import Trial

from ..labels import duration
from ..spec.plans import TrialPlan
from ..tracking.names import (COPIED_FROM_KEY, FAILURE_KEY, RUNNING_BEST, TOTAL_EPOCHS_KEY, TRACEBACK_KEY,
                              stopped_by_scheduler)
from .trial import REPORT_FOLDER

PlanLookup = Callable[[dict[str, Any]], TrialPlan]


class TrialPlans:
    """The plan of each Tune trial, built once per trial and shared by the callbacks: an Optuna
    trial's plan is resolved (and validated) from its suggestion, which per epoch would cost more
    than the epoch's logging. A PBT exploit changes a trial's values, never its identity."""

    def __init__(self, plan_for: PlanLookup) -> None:
        self.plan_for = plan_for
        self.plans: dict[str, TrialPlan] = {}

    def __call__(self, trial: Trial) -> TrialPlan:
        if trial.trial_id not in self.plans:
            self.plans[trial.trial_id] = self.plan_for(trial.config)
        return self.plans[trial.trial_id]


def error_text(trial: Trial) -> str:
    """The trial's traceback text. Tune writes it locally first (``error_file``) and syncs it to
    storage later, so ``Trial.get_error`` can still be empty when ``on_trial_error`` runs. A
    trial a scheduler stopped right after it reported its failure has only that report."""
    if trial.error_file and Path(trial.error_file).is_file():
        text = Path(trial.error_file).read_text()
    elif FAILURE_KEY in (trial.last_result or {}):
        text = trial.last_result.get(TRACEBACK_KEY) or trial.last_result[FAILURE_KEY]
    else:
        text = str(trial.get_error() or "unknown error")
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # Ray colours the worker's name for terminals


# A traceback's last line names an exception by its module path (orchestrator.train.loop.
# NonFiniteLossError, torch.OutOfMemoryError); the class name says it.
QUALIFIED_NAME = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*: )")


def first_line(error: Optional[BaseException | str]) -> str:
    """The most specific line of an error, for a tag and a one-line summary."""
    text = str(error or "unknown error").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return QUALIFIED_NAME.sub("", lines[-1] if lines else text)[:500]


@dataclass
class SweepTally:
    """What happened to the trials of one sweep, shared by the callbacks."""

    total: Optional[int]
    finished: int = 0
    pruned: int = 0
    unstarted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    best: Optional[float] = None  # the objective's best so far, of finished trials

    @property
    def ended(self) -> int:
        """Trials that ended one way or another (a retried trial has not)."""
        return self.finished + self.pruned + self.unstarted + len(self.failed)


def outcome_of(trial: Trial, epochs: int) -> str:
    """``finished`` (all epochs, or the recipe's early stopping), ``pruned`` (stopped by a
    scheduler), ``failed`` (stopped by a scheduler on the report of its failure) or
    ``unstarted`` (no epoch ran: the time budget was spent before it began)."""
    last = trial.last_result or {}
    if FAILURE_KEY in last:
        return "failed"
    if "epoch" not in last:
        return "unstarted"
    return "pruned" if stopped_by_scheduler({TOTAL_EPOCHS_KEY: epochs} | last) else "finished"


def final_report_folder(trial: Trial) -> Optional[Path]:
    """The final report the trial left in its last checkpoint, when that is on this machine."""
    checkpoint = trial.checkpoint
    if checkpoint is None:
        return None
    folder = Path(checkpoint.path) / REPORT_FOLDER
    return folder if folder.is_dir() else None


class FailuresAreFinal(Callback):
    """A trial that reported a failure of its own (an exception in building or training) is
    not retried: the error that follows its report would come back from the same checkpoint.
    Tune has no per-error retry policy; it reads ``Trial.max_failures`` when the error
    arrives, which is after this callback saw the report."""

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        if FAILURE_KEY in result:
            trial.max_failures = 0


class ProgressPrinter(Callback):
    """One line per epoch and per trial outcome, with a running tally and the best so far."""

    def __init__(self, tally: SweepTally, plan_for: TrialPlans, *, epochs: int, metric: str,
                 mode: str, echo: Callable[[str], None] = print) -> None:
        self.tally = tally
        self.plan_for = plan_for
        self.epochs = epochs
        self.metric = metric
        self.sign = 1 if mode == "max" else -1
        self.echo = echo
        self.start = time.monotonic()
        self.names: dict[str, str] = {}  # run key -> the name progress lines use
        self.epochs_trained = 0  # epochs reported in this sweep, by every trial
        self.first_trial: Optional[float] = None  # when the first trial started: the rate's clock
        self.position: dict[str, tuple[int, int]] = {}  # trial id -> (its last epoch, its epochs), while it runs

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks with its experiment state; the output function may be bound
        # to a terminal or a test's capture, so a restored printer prints to stdout.
        return {k: v for k, v in self.__dict__.items() if k != "echo"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.echo = print

    def _name(self, trial: Trial) -> str:
        plan = self.plan_for(trial)
        name = self.names[plan.run_key] = f"{plan.label} s{plan.seed}"
        return name

    def _emit(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.start)
        tally = self.tally
        total = f"/{tally.total}" if tally.total else ""
        # The best's value only: its name is on the line that made it the best (a configuration's
        # name lists every searched value, and on every line it would double each line's length).
        best = f" | best {self.metric} {tally.best:.2f}" if tally.best is not None else ""
        status = (f"[{elapsed // 60:02d}:{elapsed % 60:02d} {tally.ended}{total} done, {len(tally.running)} running, "
                  f"{len(tally.failed)} failed{self._left()}{best}]")
        self.echo(f"{status} {text}")

    def _left(self) -> str:
        """The time left, from the rate at which this sweep has trained epochs since its first
        trial started (all its trials together, so however many run at once; Ray's start is not
        training): the epochs still to train, the queued trials' whole and the running ones' rest,
        at that rate. An upper bound where a scheduler stops trials early; nothing until an epoch
        is in, or when the count of trials is open."""
        if not self.tally.total or not self.epochs_trained or self.first_trial is None:
            return ""
        elapsed = time.monotonic() - self.first_trial
        queued = max(self.tally.total - self.tally.ended - len(self.position), 0)
        left = queued * self.epochs + sum(max(epochs - epoch, 0) for epoch, epochs in self.position.values())
        return f", ~{duration(left * elapsed / self.epochs_trained)} left" if left else ""

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        if trial.last_result.get("epoch"):
            return  # a paused trial going on (PBT pauses every member at each perturbation)
        self.tally.running.add(trial.trial_id)
        if self.first_trial is None:
            self.first_trial = time.monotonic()
        self._emit(f"started {self._name(trial)}")

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        if FAILURE_KEY in result:
            return  # the error follows, or the scheduler's stop does
        if COPIED_FROM_KEY in result:
            source = self.names.get(result[COPIED_FROM_KEY], result[COPIED_FROM_KEY])
            self._emit(f"{self._name(trial)} goes on from the weights of {source} "
                       f"(pbt: lr {result.get('opt/base_lr', float('nan')):.4g}, "
                       f"weight decay {result.get('opt/weight_decay', float('nan')):.4g})")
        value = result.get(self.metric)
        total = result.get(TOTAL_EPOCHS_KEY, self.epochs)
        self.epochs_trained += 1
        self.position[trial.trial_id] = (int(result["epoch"]), int(total))
        shown = f"{value:.2f}" if isinstance(value, (int, float)) else "-"
        self._emit(f"{self._name(trial)} epoch {int(result['epoch'])}/{total} {self.metric} {shown}")

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        outcome = outcome_of(trial, self.epochs)
        if outcome == "failed":
            self.on_trial_error(iteration, trials, trial)
            return
        self.tally.running.discard(trial.trial_id)
        self.position.pop(trial.trial_id, None)
        if outcome == "unstarted":
            self.tally.unstarted += 1
            self._emit(f"not started (time budget spent): {self._name(trial)}")
            return
        if outcome == "pruned":
            self.tally.pruned += 1
        else:
            self.tally.finished += 1
        new_best = outcome == "finished" and self._keep_best(trial)
        self._emit(f"{outcome} {self._name(trial)}" + (" (new best)" if new_best else ""))

    def _keep_best(self, trial: Trial) -> bool:
        """Whether the trial is the new best so far. Of finished trials only, as the leaderboard's
        ranking is: a pruned trial's number is from an epoch the finished ones went past."""
        value = trial.last_result.get(RUNNING_BEST.get(self.metric, self.metric))
        if value is None or (self.tally.best is not None and self.sign * value <= self.sign * self.tally.best):
            return False
        self.tally.best = value
        return True

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.tally.running.discard(trial.trial_id)
        self.position.pop(trial.trial_id, None)
        reason = first_line(error_text(trial))
        self.tally.failed.append((self._name(trial), reason))
        self._emit(f"FAILED {self._name(trial)}: {reason}")
