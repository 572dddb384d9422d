"""MLflow identity and logging; the only module that imports mlflow.

One experiment per study, one parent run per sweep, one child run per (configuration, seed),
found again by its ``orchestrate.run_key`` tag. Only the sweep driver calls this module, so a
SQLite store has exactly one writer however many trials run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable, Optional

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient

from .errors import OrchestrateError

DEFAULT_URI = "sqlite:///mlflow.db"
TAG = "orchestrate."  # prefix of every tag this tool writes
KIND_SWEEP, KIND_TRIAL = "sweep", "trial"
MAX_PARAM_LENGTH = 6000  # MLflow's limit on one param value


def resolve_uri(configured: Optional[str] = None) -> str:
    """The spec's URI, else ``$MLFLOW_TRACKING_URI``, else ``mlflow.db`` in the working directory.

    A relative SQLite path is made absolute so the store does not move with the process's cwd.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        uri = prefix + str(Path(uri[len(prefix):]).resolve())
    return uri


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _now_ms() -> int:
    return int(time.time() * 1000)


class StudyTracker:
    """The MLflow side of one study: its experiment, the sweep's parent run and the trial runs."""

    def __init__(self, study: str, uri: Optional[str] = None) -> None:
        self.study = study
        self.uri = resolve_uri(uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.parent_run_id: Optional[str] = None
        self._experiment_id: Optional[str] = None

    def __getstate__(self) -> dict[str, Any]:
        # Ray Tune pickles its callbacks with the experiment state; a client holds a live
        # database connection, so it is rebuilt from the URI instead.
        return {k: v for k, v in self.__dict__.items() if k != "client"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.client = MlflowClient(tracking_uri=self.uri)

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            experiment = self.client.get_experiment_by_name(self.study)
            if experiment is None:
                self._experiment_id = self.client.create_experiment(self.study)
            else:
                self._experiment_id = experiment.experiment_id
        return self._experiment_id

    def start_sweep(self, spec: dict[str, Any], *, trial_count: Optional[int]) -> str:
        tags = {f"{TAG}kind": KIND_SWEEP, f"{TAG}study": self.study}
        run = self.client.create_run(self.experiment_id, run_name=f"{self.study} sweep", tags=tags)
        self.parent_run_id = run.info.run_id
        search = spec["search"]
        params = {f"search.{k}": search[k] for k in ("kind", "repeats", "metric", "mode")}
        if trial_count is not None:
            params["trials"] = trial_count
        self.client.log_batch(self.parent_run_id, params=[Param(k, str(v)) for k, v in params.items()])
        self.client.log_dict(self.parent_run_id, spec, "spec.json")
        return self.parent_run_id

    def end_sweep(self, status: str = "FINISHED") -> None:
        if self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)

    def start_trial(self, plan: dict[str, Any]) -> str:
        """Create the child run of a plan (see :class:`orchestrator.space.TrialPlan`)."""
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
        run = self.client.create_run(
            self.experiment_id, run_name=f"{plan['label']} s{plan['seed']}", tags=tags
        )
        run_id = run.info.run_id
        params = flatten(plan["config"]) | {"seed": plan["seed"]}
        self.client.log_batch(
            run_id, params=[Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        )
        self.client.log_dict(run_id, plan["config"] | {"seed": plan["seed"]}, "trial_config.json")
        return run_id

    def log_metrics(self, run_id: str, metrics: dict[str, float], *, step: int) -> None:
        """One batched write per epoch: every metric at ``step``."""
        stamp = _now_ms()
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items()]
        self.client.log_batch(run_id, metrics=batch)

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
        if summary:
            self.log_metrics(run_id, summary, step=0)
        if tags:
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        if error:
            self.client.log_text(run_id, error, "error.txt")
        self.client.set_terminated(run_id, status=status)

    def finished_run_keys(self) -> set[str]:
        """Run keys of this study's trial runs that already FINISHED (kept, not re-run)."""
        if self.client.get_experiment_by_name(self.study) is None:
            return set()
        frame = trial_runs(self.study, uri=self.uri, statuses=("FINISHED",))
        return set(frame["run_key"]) if not frame.empty else set()


def trial_runs(
    study: str, *, uri: Optional[str] = None, statuses: Iterable[str] = ("FINISHED",)
) -> pd.DataFrame:
    """One row per trial run of ``study``: identity tags, status and every metric's last value.

    Columns: ``run_id``, ``status``, ``run_key``, ``config_key``, ``label``, ``seed``, ``model``,
    ``factors`` (JSON) and one column per metric key (``summary/best_top1``, ...).
    """
    uri = resolve_uri(uri)
    mlflow.set_tracking_uri(uri)
    if MlflowClient(tracking_uri=uri).get_experiment_by_name(study) is None:
        raise OrchestrateError(f"no study named {study!r} in {uri}")
    frame = mlflow.search_runs(
        experiment_names=[study],
        filter_string=f"tags.`{TAG}kind` = '{KIND_TRIAL}'",
        output_format="pandas",
    )
    if not frame.empty:
        frame = frame[frame["status"].isin(list(statuses))]  # MLflow's filter has no status IN
    if frame.empty:
        return pd.DataFrame(columns=["run_id", "status", "run_key", "config_key", "label", "seed"])
    renames = {f"tags.{TAG}{k}": k for k in ("run_key", "config_key", "label", "seed", "model", "factors")}
    renames |= {c: c[len("metrics."):] for c in frame.columns if c.startswith("metrics.")}
    frame = frame.rename(columns=renames)
    frame["seed"] = frame["seed"].astype(int)
    keep = ["run_id", "status", "start_time", *renames.values()]
    return frame[[c for c in keep if c in frame.columns]]


def study_objective(study: str, *, uri: Optional[str] = None) -> tuple[str, str]:
    """(metric, mode) of the study's latest sweep; ``val/top1``/``max`` when none recorded them."""
    client = MlflowClient(tracking_uri=resolve_uri(uri))
    experiment = client.get_experiment_by_name(study)
    if experiment is not None:
        runs = client.search_runs(
            [experiment.experiment_id], filter_string=f"tags.`{TAG}kind` = '{KIND_SWEEP}'",
            order_by=["attributes.start_time DESC"], max_results=1,
        )
        if runs:
            params = runs[0].data.params
            return params.get("search.metric", "val/top1"), params.get("search.mode", "max")
    return "val/top1", "max"
