"""MLflow identity and logging; the only module that imports mlflow.

One experiment per study, one parent run per sweep, one child run per (configuration, seed),
found again by its ``orchestrate.run_key`` tag. Only the sweep driver calls this module, so a
SQLite store has exactly one writer however many trials run.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable, Optional

import pandas as pd
from mlflow.entities import Metric, Param, RunTag
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


def check_reachable(uri: str, *, timeout: float = 5.0) -> None:
    """Fail fast with one line when the store cannot be used, instead of MLflow's minutes of
    retries against a server that is down or a database folder that does not exist."""
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        folder = Path(uri[len(prefix):]).parent
        if not folder.is_dir():
            raise OrchestrateError(f"tracking store {uri}: folder {folder} does not exist")
        return
    if uri.startswith(("http://", "https://")):
        import requests

        try:
            requests.get(uri.rstrip("/") + "/health", timeout=timeout)
        except requests.RequestException as exc:
            raise OrchestrateError(
                f"cannot reach the MLflow tracking server at {redact(uri)}: {type(exc).__name__}"
            ) from None


def redact(uri: str) -> str:
    """``uri`` without the password of a ``user:password@host`` part."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", uri)


def open_client(uri: str) -> MlflowClient:
    """An MLflow client whose store exists. Creating a SQLite store runs schema migrations,
    which race when two sweeps start on a new file at once; a lock file beside it serializes
    that first contact."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return MlflowClient(tracking_uri=uri)
    from filelock import FileLock

    with FileLock(uri[len(prefix):] + ".lock"):
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # creates and migrates the tables
    return client


def redact_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec as plain data with its tracking URI's password hidden: what is logged (``spec.json``),
    compared on resume and shipped to trials, so no copy of a password leaves the driver."""
    tracking = spec.get("tracking") or {}
    if not tracking.get("uri"):
        return spec
    return spec | {"tracking": tracking | {"uri": redact(tracking["uri"])}}


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
        self.client = open_client(self.uri)
        self.parent_run_id: Optional[str] = None
        self._experiment_id: Optional[str] = None

    def __getstate__(self) -> dict[str, Any]:
        # Ray Tune pickles its callbacks with the experiment state; a client holds a live
        # database connection, so it is rebuilt from the URI instead.
        return {k: v for k, v in self.__dict__.items() if k != "client"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.client = open_client(self.uri)

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
        params = {k: v if isinstance(v, (str, int)) else json.dumps(v) for k, v in params.items()}
        if trial_count is not None:
            params["trials"] = trial_count
        self.client.log_batch(self.parent_run_id, params=[Param(k, str(v)) for k, v in params.items()])
        self.client.log_dict(self.parent_run_id, spec, "spec.json")
        return self.parent_run_id

    def end_sweep(self, status: str = "FINISHED") -> None:
        if self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)

    def _runs(self, kind: str, extra_filter: str = "", max_results: int = 10_000) -> list[Any]:
        if self.client.get_experiment_by_name(self.study) is None:
            return []
        query = f"tags.`{TAG}kind` = '{kind}'" + (f" AND {extra_filter}" if extra_filter else "")
        return self.client.search_runs(
            [self.experiment_id], filter_string=query, max_results=max_results,
            order_by=["attributes.start_time DESC"],
        )

    def latest_sweep(self) -> Optional[Any]:
        return _latest_sweep_run(self.client, self.study)

    def recorded_spec(self) -> Optional[dict[str, Any]]:
        """The spec the study's latest sweep started with (its ``spec.json``), if any."""
        latest = self.latest_sweep()
        if latest is None:
            return None
        path = self.client.download_artifacts(latest.info.run_id, "spec.json")
        return json.loads(Path(path).read_text())

    def resume_sweep(self) -> str:
        """Reopen the latest parent run, so a resumed sweep stays one sweep in the UI."""
        latest = self.latest_sweep()
        if latest is None:
            raise OrchestrateError(f"study {self.study!r} has no sweep to resume")
        self.parent_run_id = latest.info.run_id
        self.client.update_run(self.parent_run_id, status="RUNNING")
        return self.parent_run_id

    def unfinished_trials(self) -> dict[str, Any]:
        """run key -> run of trial runs left RUNNING or interrupted (not finished, failed or
        pruned): the runs a resume continues."""
        unfinished: dict[str, Any] = {}
        for run in self._runs(KIND_TRIAL):
            if run.info.status not in ("RUNNING", "KILLED"):
                continue
            # A run still RUNNING belongs to a driver that died; KILLED ones were interrupted
            # (Ctrl-C) unless a scheduler pruned them.
            outcome = run.data.tags.get(f"{TAG}outcome", "running")
            key = run.data.tags.get(f"{TAG}run_key")
            if outcome in ("running", "interrupted") and key and key not in unfinished:
                unfinished[key] = run
        return unfinished

    def reopen_trial(self, run_id: str) -> int:
        """Mark an interrupted run RUNNING again; returns the last epoch it has metrics for, so a
        continued trial does not log the same step twice."""
        self.client.update_run(run_id, status="RUNNING")
        self.client.set_tag(run_id, f"{TAG}outcome", "running")
        history = self.client.get_metric_history(run_id, "val/top1")
        return max((m.step for m in history), default=0)

    def mark_interrupted(self, run_id: str) -> None:
        self.client.set_tag(run_id, f"{TAG}outcome", "interrupted")
        self.client.set_terminated(run_id, status="KILLED")

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
        tags[f"{TAG}outcome"] = "running"
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

    def log_folder(self, run_id: str, folder: Path) -> None:
        """Every file of ``folder`` as the run's artifacts (the trial's final report)."""
        self.client.log_artifacts(run_id, str(folder))

    def log_dict(self, run_id: str, data: dict[str, Any], path: str) -> None:
        """``data`` as the run's JSON artifact ``path`` (replacing an earlier one)."""
        self.client.log_dict(run_id, data, path)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

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
            self.set_tags(run_id, tags)
        if error:
            self.client.log_text(run_id, error, "error.txt")
        self.client.set_terminated(run_id, status=status)

    def finished_run_keys(self) -> set[str]:
        """Run keys of this study's trial runs that already FINISHED (kept, not re-run)."""
        if self.client.get_experiment_by_name(self.study) is None:
            return set()
        runs = read_trials(self.study, uri=self.uri, metrics=())
        return set(runs.loc[runs["status"] == "FINISHED", "run_key"])


def _latest_sweep_run(client: MlflowClient, study: str) -> Optional[Any]:
    """The study's most recent parent (sweep) run, or None."""
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`{TAG}kind` = '{KIND_SWEEP}'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    return runs[0] if runs else None


def study_objective(study: str, *, uri: Optional[str] = None) -> tuple[str, str]:
    """(metric, mode) of the study's latest sweep; ``val/top1``/``max`` when none recorded them."""
    latest = _latest_sweep_run(MlflowClient(tracking_uri=resolve_uri(uri)), study)
    if latest is None:
        return "val/top1", "max"
    params = latest.data.params
    metric, mode = params.get("search.metric", "val/top1"), params.get("search.mode", "max")
    if metric.startswith("["):  # a multi-objective study ranks by its first objective
        metric, mode = json.loads(metric)[0], json.loads(mode)[0]
    return metric, mode


# ---------------------------------------------------------------------------------------------
# Reading for reports. Kept apart from the writing side above so the two can change separately.

PAGE_SIZE = 1000  # runs per search request: MLflow's default page, so memory stays bounded
IDENTITY_TAGS = (
    "config_key", "run_key", "label", "seed", "model", "factors", "outcome", "failure", "device",
)
# Runs closed before the outcome tag existed, or by a crash, still have an MLflow status.
OUTCOME_OF_STATUS = {"FINISHED": "finished", "KILLED": "pruned", "FAILED": "failed"}


def read_trials(
    study: str,
    *,
    uri: Optional[str] = None,
    metrics: Iterable[str],
    fields: Iterable[str] = (),
    page_size: int = PAGE_SIZE,
) -> pd.DataFrame:
    """Every trial run of ``study`` whatever its status, reduced to the columns a report uses.

    MLflow has no column selection, so runs come a page at a time and each is cut down at once
    to ``run_id``, ``study``, ``status``, ``start_time``, the identity tags (``outcome`` falls
    back to the status), the last value of each of ``metrics`` and each of ``fields``: a config
    option (param) when the run has one of that name, else an ``orchestrate.`` tag, else a tag.
    """
    client = MlflowClient(tracking_uri=resolve_uri(uri))
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        raise OrchestrateError(f"no study named {study!r} in {redact(resolve_uri(uri))}")
    base = ["run_id", "study", "status", "start_time", *IDENTITY_TAGS]
    metrics = [m for m in dict.fromkeys(metrics) if m not in base]
    fields = [f for f in dict.fromkeys(fields) if f not in base and f not in metrics]
    rows: list[dict[str, Any]] = []
    token: Optional[str] = None
    while True:
        # Oldest first: runs a live sweep adds meanwhile land on later pages, not shift earlier ones.
        page = client.search_runs(
            [experiment.experiment_id], filter_string=f"tags.`{TAG}kind` = '{KIND_TRIAL}'",
            max_results=page_size, page_token=token, order_by=["attributes.start_time ASC"],
        )
        rows += [_report_row(run, study, metrics, fields) for run in page]
        token = page.token
        if not token:
            break
    frame = pd.DataFrame(rows, columns=[*base, *metrics, *fields])
    return frame.drop_duplicates("run_id", keep="last", ignore_index=True)


def _report_row(run: Any, study: str, metrics: list[str], fields: list[str]) -> dict[str, Any]:
    tags, params, values = run.data.tags, run.data.params, run.data.metrics
    row: dict[str, Any] = {"run_id": run.info.run_id, "study": study, "status": run.info.status,
                           "start_time": run.info.start_time}
    row |= {name: tags.get(f"{TAG}{name}") for name in IDENTITY_TAGS}
    row["outcome"] = row["outcome"] or OUTCOME_OF_STATUS.get(run.info.status, "running")
    row |= {name: values.get(name) for name in metrics}
    for name in fields:
        row[name] = params.get(name, tags.get(f"{TAG}{name}", tags.get(name)))
    return row


def latest_sweep(study: str, *, uri: Optional[str] = None) -> Optional[tuple[str, dict[str, Any]]]:
    """(run id, spec) of the study's latest sweep run, the spec ``{}`` if it has no spec.json."""
    client = MlflowClient(tracking_uri=resolve_uri(uri))
    latest = _latest_sweep_run(client, study)
    if latest is None:
        return None
    run_id = latest.info.run_id
    text = _artifact_text(client, run_id, "spec.json")
    return run_id, json.loads(text) if text is not None else {}


def metric_history(run_ids: Iterable[str], key: str, *, uri: Optional[str] = None) -> pd.DataFrame:
    """Every logged value of ``key`` for each run: columns ``run_id``, ``step``, ``value``.

    One request per run, so callers pass only the runs they plot, not a whole study.
    """
    client = MlflowClient(tracking_uri=resolve_uri(uri))
    rows = [(run_id, m.step, m.value) for run_id in run_ids for m in client.get_metric_history(run_id, key)]
    return pd.DataFrame(rows, columns=["run_id", "step", "value"])


def read_csv_artifact(run_id: str, path: str, *, uri: Optional[str] = None) -> Optional[pd.DataFrame]:
    """A run's CSV artifact as a DataFrame, or None when the run has no file at ``path``."""
    text = _artifact_text(MlflowClient(tracking_uri=resolve_uri(uri)), run_id, path)
    if text is None:
        return None
    import io

    return pd.read_csv(io.StringIO(text))


def _artifact_text(client: MlflowClient, run_id: str, path: str) -> Optional[str]:
    folder = os.path.dirname(path)
    if path not in {item.path for item in client.list_artifacts(run_id, folder or None)}:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        return Path(client.download_artifacts(run_id, path, scratch)).read_text()


def log_directory(run_id: str, directory: str | Path, *, uri: Optional[str] = None,
                  artifact_path: str = "report") -> None:
    """Attach every file under ``directory`` to a run (a sweep's parent run, for reports)."""
    MlflowClient(tracking_uri=resolve_uri(uri)).log_artifacts(run_id, str(directory), artifact_path)
