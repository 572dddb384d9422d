"""Writing the store: the sweep driver's only door to MLflow.

One experiment per study, one parent run per sweep, one child run per (configuration, seed),
found again by its ``orchestrate.run_key`` tag. Only the sweep driver writes, so a SQLite store
has exactly one writer however many trials run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from ..errors import OrchestrateError
from . import reader
from .retry import RetryingClient
from .names import (EXPERIMENT_KIND_TAG, KIND_SWEEP, KIND_TRIAL, NOTE_TAG, PROVENANCE, REPORTED_FILE, TAG,
                    TRAINING_KIND)
from .store import artifact_location, flatten, open_client, resolve_uri

MAX_PARAM_LENGTH = 6000  # MLflow's limit on one param value


def _now_ms() -> int:
    return int(time.time() * 1000)


class StudyTracker:
    """The MLflow side of one study: its experiment, the sweep's parent run and the trial runs."""

    def __init__(self, study: str, uri: Optional[str] = None) -> None:
        self.study = study
        self.uri = resolve_uri(uri)
        self.client = RetryingClient(open_client(self.uri), self.uri)
        self.parent_run_id: Optional[str] = None
        self._experiment_id: Optional[str] = None

    def __getstate__(self) -> dict[str, Any]:
        # Ray Tune pickles its callbacks with the experiment state; a client holds a live
        # database connection, so it is rebuilt from the URI instead.
        return {k: v for k, v in self.__dict__.items() if k != "client"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.client = RetryingClient(open_client(self.uri), self.uri)

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            experiment = self.client.get_experiment_by_name(self.study)
            if experiment is None:
                self._experiment_id = self.client.create_experiment(
                    self.study, artifact_location=artifact_location(self.uri, self.study),
                    tags={EXPERIMENT_KIND_TAG: TRAINING_KIND})
            else:
                self._experiment_id = experiment.experiment_id
                if EXPERIMENT_KIND_TAG not in experiment.tags:  # a study made before the tag
                    self.client.set_experiment_tag(self._experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND)
        return self._experiment_id

    def start_sweep(self, spec: dict[str, Any], *, trial_count: Optional[int],
                    provenance: Optional[dict[str, str]] = None, extra_tags: Optional[dict[str, str]] = None) -> str:
        """Open the sweep's parent run with its search params, ``spec.json``, the spec's reported
        numbers (``reported.json``) and one ``orchestrate.provenance.*`` tag per field of ``provenance``."""
        tags = {f"{TAG}kind": KIND_SWEEP, f"{TAG}study": self.study, **(extra_tags or {})}
        tags |= {f"{PROVENANCE}{k}": v[:MAX_PARAM_LENGTH] for k, v in (provenance or {}).items()}
        run = self.client.create_run(self.experiment_id, run_name=f"{self.study} sweep", tags=tags)
        self.parent_run_id = run.info.run_id
        search = spec["search"]
        params = {f"search.{k}": search[k] for k in ("kind", "repeats", "metric", "mode")}
        params = {k: v if isinstance(v, (str, int)) else json.dumps(v) for k, v in params.items()}
        if trial_count is not None:
            params["trials"] = trial_count
        self.client.log_batch(self.parent_run_id, params=[Param(k, str(v)) for k, v in params.items()])
        self.client.log_dict(self.parent_run_id, spec, "spec.json")
        if spec.get("reported"):
            self.client.log_dict(self.parent_run_id, spec["reported"], REPORTED_FILE)
        return self.parent_run_id

    def end_sweep(self, status: str = "FINISHED") -> None:
        if self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)

    def resume_sweep(self) -> str:
        """Reopen the latest parent run, so a resumed sweep stays one sweep in the UI."""
        latest = reader.latest_sweep_run(self.client, self.study)
        if latest is None:
            raise OrchestrateError(f"study {self.study!r} has no sweep to resume")
        self.parent_run_id = latest.info.run_id
        self.client.update_run(self.parent_run_id, status="RUNNING")
        return self.parent_run_id

    def reopen_trial(self, run_id: str) -> int:
        """Mark an interrupted run RUNNING again; returns the last epoch it has metrics for, so a
        continued trial does not log the same step twice."""
        self.client.update_run(run_id, status="RUNNING")
        self.client.set_tag(run_id, f"{TAG}outcome", "running")
        return reader.last_logged_step(self.client, run_id)

    def mark_interrupted(self, run_id: str) -> None:
        self.client.set_tag(run_id, f"{TAG}outcome", "interrupted")
        self.client.set_terminated(run_id, status="KILLED")

    def start_trial(self, plan: dict[str, Any], *, started: Optional[float] = None) -> str:
        """Create the child run of a plan (see :class:`orchestrator.spec.plans.TrialPlan`),
        dated ``started`` (``time.time()`` when the trial began; default: now)."""
        tags = {
            f"{TAG}kind": KIND_TRIAL,
            f"{TAG}study": self.study,
            f"{TAG}config_key": plan["config_key"],
            f"{TAG}run_key": f"{plan['config_key']}-s{plan['seed']}",
            f"{TAG}label": plan["label"],
            f"{TAG}seed": str(plan["seed"]),
            f"{TAG}model": plan["config"]["model"]["name"],
            f"{TAG}factors": json.dumps(plan["factors"], sort_keys=True),
            **{f"{TAG}factor.{k}": json.dumps(v) for k, v in plan["factors"].items()},
        }
        if self.parent_run_id is not None:
            tags["mlflow.parentRunId"] = self.parent_run_id
        tags[f"{TAG}outcome"] = "running"
        run = self.client.create_run(
            self.experiment_id, run_name=f"{plan['label']} s{plan['seed']}", tags=tags,
            start_time=None if started is None else int(started * 1000),
        )
        run_id = run.info.run_id
        params = flatten(plan["config"]) | {"seed": plan["seed"]}
        self.client.log_batch(
            run_id, params=[Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        )
        self.client.log_dict(run_id, plan["config"] | {"seed": plan["seed"]}, "trial_config.json")
        return run_id

    def log_folder(self, run_id: str, folder: Path) -> None:
        """Every file of ``folder`` as the run's artifacts (the trial's final report)."""
        self.client.log_artifacts(run_id, str(folder))

    def log_dict(self, run_id: str, data: dict[str, Any], path: str) -> None:
        """``data`` as the run's JSON artifact ``path`` (replacing an earlier one)."""
        self.client.log_dict(run_id, data, path)

    def set_note(self, run_id: str, markdown: str) -> None:
        """The run's description in the MLflow UI."""
        self.client.set_tag(run_id, NOTE_TAG, markdown)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_metrics(self, run_id: str, metrics: dict[str, float], *, step: int,
                    tags: Optional[dict[str, str]] = None) -> None:
        """One batched write per epoch: every metric at ``step``, with ``tags`` if any (MLflow
        reads the run back on every batch, so a write saved is a read saved too)."""
        stamp = _now_ms()
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items()]
        self.client.log_batch(run_id, metrics=batch, tags=[RunTag(k, v) for k, v in (tags or {}).items()])

    def finish_trial(
        self,
        run_id: str,
        *,
        status: str,
        summary: dict[str, float],
        tags: Optional[dict[str, str]] = None,
        error: Optional[str] = None,
    ) -> None:
        """Log the summary, the outcome tags and (for a failure) the traceback, then close the run."""
        if summary or tags:
            self.log_metrics(run_id, summary, step=0, tags=tags)
        if error:
            self.client.log_text(run_id, error, "error.txt")
        self.client.set_terminated(run_id, status=status)


def log_directory(run_id: str, directory: str | Path, *, uri: Optional[str] = None,
                  artifact_path: str = "report") -> None:
    """Attach every file under ``directory`` to a run (a sweep's parent run, for reports)."""
    MlflowClient(tracking_uri=resolve_uri(uri)).log_artifacts(run_id, str(directory), artifact_path)
