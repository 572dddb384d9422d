"""The sweep driver's MLflow logging: one run per (configuration, seed), each epoch one batch,
pruned and failed trials recorded as such, every write on one writer thread.

Ray ships ``MLflowLoggerCallback``, but it creates one run per Tune trial with no parent, no
stable (configuration, seed) identity and one write per metric.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from typing import Any, Callable, Optional

from ray.tune import Callback
from ray.tune.experiment import Trial

from ..tracking.names import (BASE_LR, COPIED_FROM_KEY, CUDA_GRAPHS_KEY, CUDA_GRAPHS_TAG, DEVICE_KEY, DEVICE_TAG,
                              NODE_KEY, SUMMARY_FROM, SYSTEM_METRICS, TAG, WEIGHT_DECAY)
from ..tracking.write_queue import WriteQueue
from ..tracking.writer import StudyTracker
from ..train.metrics import EPOCH_METRICS
from .callbacks import TrialPlans, error_text, final_report_folder, first_line, outcome_of

PBT_LINEAGE_FILE = "pbt_lineage.json"


class RunIdentities(Mapping[str, dict[str, str]]):
    """Tune trial id -> ``{"run_key", "mlflow_run_id"}``, for Optuna's user attributes. A run is
    opened on the writer thread, so its id may still be on the way: reading it waits for it."""

    def __init__(self) -> None:
        self.runs: dict[str, tuple[str, Future]] = {}

    def __getitem__(self, trial_id: str) -> dict[str, str]:
        run_key, run_id = self.runs[trial_id]
        return {"run_key": run_key, "mlflow_run_id": run_id.result()}

    def __iter__(self) -> Iterator[str]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __reduce__(self) -> tuple[type[dict], tuple[dict[str, dict[str, str]]]]:
        return dict, (dict(self),)  # Tune pickles the searcher holding it: the ids, resolved


def device_tag(result: dict) -> dict[str, str]:
    """The run's tag of the device its trial trained on."""
    return {DEVICE_TAG: str(result.get(DEVICE_KEY, "cpu"))}


def resolved(run_id: str) -> Future:
    """A future already holding ``run_id``: a run id known without a write."""
    done: Future = Future()
    done.set_result(run_id)
    return done


class MlflowTrialLogger(Callback):
    """Opens each trial's run at its first epoch, logs every epoch in one batch, closes it with
    its outcome. A trial that never trained (time budget spent) leaves no run behind.

    Writes are queued to one writer thread, opening a run included, so Tune's loop never waits on
    the store (for a short trial, that wait sat between its end and the next trial's start). A
    run's later writes take its id from the opening write, which ran before them on the same
    thread. Each stage ends with every write done (a later stage reads them) and raises one
    that failed.
    """

    def __init__(self, tracker: StudyTracker, plan_for: TrialPlans, *, epochs: int,
                 resumable: Optional[dict[str, str]] = None) -> None:
        self.tracker = tracker
        self.plan_for = plan_for
        self.epochs = epochs
        self.resumable = dict(resumable or {})  # run key -> run id of interrupted runs
        self.run_ids: dict[str, Future] = {}  # trial id -> its run's id, once the writer opened it
        self.logged_steps: dict[str, int] = {}
        self.nodes: dict[str, str] = {}  # trial id -> the Ray node its run's tag names
        self.graphs: dict[str, str] = {}  # trial id -> its CUDA graph state as last tagged
        self.lineage: dict[str, list[dict[str, Any]]] = {}  # trial id -> the PBT copies it made
        self.open: set[str] = set()  # trial ids whose run is open
        # trial id -> when Tune started it: its run opens at the first epoch, but is dated from
        # here, so the run's duration in the UI holds the model's build and the first epoch.
        self.started: dict[str, float] = {}
        self.identities = RunIdentities()
        self.writes = WriteQueue()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its callbacks with the experiment state: futures do not pickle, so the
        # runs being opened are waited for and their ids kept.
        self.writes.drain()
        return self.__dict__ | {"run_ids": {trial: run.result() for trial, run in self.run_ids.items()
                                            if run.exception() is None}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.run_ids = {trial: resolved(run_id) for trial, run_id in state["run_ids"].items()}
        self.identities = RunIdentities()
        self.identities.runs = {trial: (known["run_key"], resolved(known["mlflow_run_id"]))
                                for trial, known in state["identities"].items()}

    def _run(self, trial: Trial) -> Future:
        if trial.trial_id not in self.run_ids:
            plan = self.plan_for(trial)
            started = self.started.pop(trial.trial_id, None)
            run_id = self.resumable.pop(plan.run_key, None)
            if run_id is not None:
                self.logged_steps[trial.trial_id] = self.writes.now(self.tracker.reopen_trial, run_id)
                run = resolved(run_id)
            else:
                run = self.writes.put(self.tracker.start_trial, plan.to_dict(), started=started)
            self.run_ids[trial.trial_id] = run
            self.identities.runs[trial.trial_id] = (plan.run_key, run)
            self.open.add(trial.trial_id)
        return self.run_ids[trial.trial_id]

    def _write(self, trial: Trial, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue ``write(run id, *args, **kwargs)`` for the trial's run."""
        run = self._run(trial)
        self.writes.put(lambda: write(run.result(), *args, **kwargs))

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        if trial.trial_id not in self.run_ids:
            self.started.setdefault(trial.trial_id, time.time())

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        step = int(result["epoch"])
        node = result.get(NODE_KEY)
        tags = {}
        if node and self.nodes.get(trial.trial_id) != node:  # first result, or retried elsewhere
            self.nodes[trial.trial_id] = node
            tags = {f"{TAG}node": node, f"{TAG}node_ip": str(result.get("node_ip")), **device_tag(result)}
        graphs = result.get(CUDA_GRAPHS_KEY)
        if graphs is not None and self.graphs.get(trial.trial_id) != graphs:  # first, or a capture failed mid-run
            self.graphs[trial.trial_id] = graphs
            tags[CUDA_GRAPHS_TAG] = str(graphs)
        if COPIED_FROM_KEY in result:
            self._record_copy(trial, result)
        if step <= self.logged_steps.get(trial.trial_id, 0):
            if tags:
                self._write(trial, self.tracker.set_tags, tags)
            return  # re-reported after a restore from an earlier checkpoint: already logged
        self.logged_steps[trial.trial_id] = step
        metrics = {k: result[k] for k in (*EPOCH_METRICS, *SYSTEM_METRICS) if k in result and k != "epoch"}
        self._write(trial, self.tracker.log_metrics, metrics, step=step, tags=tags)

    def _record_copy(self, trial: Trial, result: dict) -> None:
        """A PBT exploit: the member went on from another run's weights with new LR/WD. The whole
        lineage is rewritten as ``pbt_lineage.json`` each time, so an interrupted run keeps it."""
        copies = self.lineage.setdefault(trial.trial_id, [])
        copies.append({"after_epoch": int(result["epoch"]) - 1, "copied_from": result[COPIED_FROM_KEY],
                       "lr": result.get(BASE_LR), "weight_decay": result.get(WEIGHT_DECAY)})
        lineage = {"copies": list(copies)}  # as of now: a later exploit may append before this is written
        self._write(trial, self.tracker.log_dict, lineage, PBT_LINEAGE_FILE)
        self._write(trial, self.tracker.set_tags, {f"{TAG}pbt_copies": str(len(copies))})

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.writes.flush()

    def close_open_runs(self) -> int:
        """Mark the runs of trials that never completed as interrupted (KILLED); returns how many.
        Called when the sweep stops early (Ctrl-C), so no run is left RUNNING. The queued writes
        land first (a run's last epochs, before it is closed); one that failed is not raised here,
        as it must not hide why the sweep stopped; unless the store itself is gone, which is why."""
        self.writes.drain()
        self.writes.check()
        for run in (self.run_ids[trial_id] for trial_id in self.open):
            if run.exception() is None:  # a run that never opened has nothing to close
                self.tracker.mark_interrupted(run.result())
        count, self.open = len(self.open), set()
        return count

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        outcome = outcome_of(trial, self.epochs)
        if outcome == "failed":
            self.on_trial_error(iteration, trials, trial)
            return
        if outcome == "unstarted":
            return
        last = trial.last_result
        summary = {name: last[key] for name, key in SUMMARY_FROM.items() if key in last}
        report = final_report_folder(trial) if outcome == "finished" else None
        if report is not None:
            self._write(trial, self.tracker.log_folder, report)
        tags = {f"{TAG}outcome": outcome, **device_tag(last)}
        self._write(trial, self.tracker.finish_trial, status="KILLED" if outcome == "pruned" else "FINISHED",
                    summary=summary, tags=tags)
        self.open.discard(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        error = error_text(trial)
        tags = {f"{TAG}outcome": "failed", f"{TAG}failure": first_line(error)}
        self._write(trial, self.tracker.finish_trial, status="FAILED", summary={}, tags=tags, error=error)
        self.open.discard(trial.trial_id)
