"""Reading the store: reports, resume and the sweep's own decisions read through here.

Runs come a page at a time (never a silent cap) and are cut down to the columns a caller asks
for at once, so memory stays bounded on studies of many thousand runs.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional

import pandas as pd

from ..errors import SpecError, StudyNotFoundError
from . import sqlite_reader
from .names import (ADDED_TO_STUDY, KIND_SWEEP, KIND_TRIAL, OUTCOME_OF_STATUS, TAG, TOP1,
                    UI_TRAINING_VIEW)
from .store import absent_sqlite_file, redact, resolve_uri, unsupported_scheme

if TYPE_CHECKING:  # MLflow loads when a client is made (see mlflow_client): SQL reads of a SQLite store skip it
    from mlflow.tracking import MlflowClient

PAGE_SIZE = 1000  # runs per search request: MLflow's default page, so memory stays bounded
IDENTITY_TAGS = (
    "config_key", "run_key", "label", "seed", "model", "factors", "outcome", "failure", "device", "cuda_graphs",
)


def mlflow_client(uri: Optional[str] = None) -> MlflowClient:
    """An MLflow client of the store, importing MLflow (seconds) only now: reading a SQLite store
    by SQL (leaderboard, report rows, the objective) never needs it."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=resolve_uri(uri))


def existing_store(uri: Optional[str] = None) -> str:
    """The resolved URI of a store that exists. MLflow creates (and migrates) a SQLite file on
    first contact, so a report asked of a store that is not there would leave an empty one behind."""
    resolved = resolve_uri(uri)
    why = unsupported_scheme(resolved)
    if why:
        raise SpecError(f"tracking store: {why}")
    path = absent_sqlite_file(resolved)
    if path is not None:
        raise StudyNotFoundError(f"no MLflow store at {path}: no study has run there")
    return resolved


def read_client(uri: Optional[str] = None) -> MlflowClient:
    """A client of an existing store (see existing_store)."""
    return mlflow_client(existing_store(uri))


def trial_runs(client: MlflowClient, experiment_id: str, *, extra_filter: str = "",
               page_size: int = PAGE_SIZE) -> Iterator[Any]:
    """Every trial run of an experiment, page by page, oldest first, each once. A run a live sweep
    opens meanwhile is dated from its trial's start, which may sort it before runs already read:
    the pages after it shift by one (a store's page token is an offset), so a run met again is
    skipped."""
    query = f"tags.`{TAG}kind` = '{KIND_TRIAL}'" + (f" AND {extra_filter}" if extra_filter else "")
    token: Optional[str] = None
    seen: set[str] = set()
    while True:
        page = client.search_runs([experiment_id], filter_string=query, max_results=page_size,
                                  page_token=token, order_by=["attributes.start_time ASC"])
        for run in page:
            if run.info.run_id not in seen:
                seen.add(run.info.run_id)
                yield run
        token = page.token
        if not token:
            return


def latest_sweep_run(client: MlflowClient, study: str) -> Optional[Any]:
    """The study's most recent parent (sweep) run, or None."""
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`{TAG}kind` = '{KIND_SWEEP}'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    return runs[0] if runs else None


def sweep_runs(study: str, *, uri: Optional[str] = None) -> pd.DataFrame:
    """The study's parent (sweep) runs, oldest first: ``run_id``, ``start_time`` (ms),
    ``status`` and ``added`` (the base-configuration differences of a sweep added to the study
    with ``--add-to-study``, as a dict; empty for the study's own recipe)."""
    client = mlflow_client(uri)
    experiment = client.get_experiment_by_name(study)
    runs = [] if experiment is None else client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`{TAG}kind` = '{KIND_SWEEP}'",
        order_by=["attributes.start_time ASC"], max_results=PAGE_SIZE)
    rows = [(run.info.run_id, run.info.start_time, run.info.status,
             json.loads(run.data.tags.get(ADDED_TO_STUDY, "{}"))) for run in runs]
    return pd.DataFrame(rows, columns=["run_id", "start_time", "status", "added"])


def ui_path(study: Optional[str] = None, *, uri: Optional[str] = None) -> str:
    """The MLflow UI's address (after host and port) of a study's runs, or of the experiment
    list, in the model-training view."""
    if study is None:
        return f"/#/experiments?{UI_TRAINING_VIEW}"
    experiment = mlflow_client(uri).get_experiment_by_name(study)
    if experiment is None:
        raise StudyNotFoundError(f"no study named {study!r} in {redact(resolve_uri(uri))}")
    return f"/#/experiments/{experiment.experiment_id}?{UI_TRAINING_VIEW}"


def recorded_spec(client: MlflowClient, study: str) -> Optional[dict[str, Any]]:
    """The spec the study's latest sweep started with (its ``spec.json``), if any."""
    latest = latest_sweep_run(client, study)
    if latest is None:
        return None
    return json.loads(_artifact_text(client, latest.info.run_id, "spec.json") or "{}")


def unfinished_trials(client: MlflowClient, study: str, *, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """run key -> run of trial runs left RUNNING or interrupted (not finished, failed or
    pruned): the runs a resume continues. The newest run of a key wins."""
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return {}
    unfinished: dict[str, Any] = {}
    statuses = "attributes.status != 'FINISHED' AND attributes.status != 'FAILED'"
    for run in trial_runs(client, experiment.experiment_id, extra_filter=statuses, page_size=page_size):
        # A run still RUNNING belongs to a driver that died; KILLED ones were interrupted
        # (Ctrl-C) unless a scheduler pruned them.
        outcome = run.data.tags.get(f"{TAG}outcome", "running")
        key = run.data.tags.get(f"{TAG}run_key")
        if outcome in ("running", "interrupted") and key:
            unfinished[key] = run
    return unfinished


def finished_run_keys(client: MlflowClient, study: str, *, page_size: int = PAGE_SIZE, sql: bool = True) -> set[str]:
    """Run keys of the study's trial runs that already FINISHED (kept, not re-run). A SQLite
    store is read by SQL, the run key and status of each run only, so starting a sweep on a
    big store stays quick; any other store (or ``sql=False``) page by page through the client."""
    path = sqlite_reader.sqlite_file(resolve_uri(client.tracking_uri)) if sql else None
    if path is not None:
        return {row["run_key"] for row in _sql_rows(path, study, [], []) or [] if row["status"] == "FINISHED"}
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return set()
    finished = trial_runs(client, experiment.experiment_id, extra_filter="attributes.status = 'FINISHED'",
                          page_size=page_size)
    return {run.data.tags.get(f"{TAG}run_key") for run in finished}


def finished_runs(study: str, uri: str, metrics: list[str]) -> pd.DataFrame:
    """The study's FINISHED trial runs that have every one of ``metrics`` (as floats)."""
    runs = read_trials(study, uri=uri, metrics=metrics)
    runs = runs[runs["status"] == "FINISHED"].dropna(subset=metrics)
    return runs.astype({metric: float for metric in metrics})


def last_logged_step(client: MlflowClient, run_id: str) -> int:
    """The last epoch a run has metrics for (0 when none)."""
    return max((m.step for m in client.get_metric_history(run_id, TOP1)), default=0)


def read_trials(
    study: str,
    *,
    uri: Optional[str] = None,
    metrics: Iterable[str],
    fields: Iterable[str] = (),
    page_size: int = PAGE_SIZE,
    sql: bool = True,
) -> pd.DataFrame:
    """Every trial run of ``study`` whatever its status, reduced to the columns a report uses.

    A SQLite store is read with SQL, column by column (``sql=False``: through the client, as
    a server store is, for comparing the two); any other store through MlflowClient,
    which has no column selection, so runs come a page at a time and each is cut down at once
    to ``run_id``, ``study``, ``status``, ``start_time``, the identity tags (``outcome`` falls
    back to the status), the last value of each of ``metrics`` and each of ``fields``: a config
    option (param) when the run has one of that name, else an ``orchestrate.`` tag, else a tag.
    """
    existing_store(uri)  # an unknown store is an unknown study, and is not created by asking
    base = ["run_id", "study", "status", "start_time", *IDENTITY_TAGS]
    metrics = [m for m in dict.fromkeys(metrics) if m not in base]
    fields = [f for f in dict.fromkeys(fields) if f not in base and f not in metrics]
    rows = _trial_rows(study, uri, metrics, fields, page_size, sql=sql)
    if rows is None:
        raise StudyNotFoundError(f"no study named {study!r} in {redact(resolve_uri(uri))}")
    frame = pd.DataFrame(rows, columns=[*base, *metrics, *fields])
    return frame.drop_duplicates("run_id", keep="last", ignore_index=True)


def _trial_rows(study: str, uri: Optional[str], metrics: list[str], fields: list[str],
                page_size: int, *, sql: bool = True) -> Optional[list[dict[str, Any]]]:
    """Report rows by SQL from a SQLite file, else through MlflowClient; None: no such study."""
    path = sqlite_reader.sqlite_file(resolve_uri(uri)) if sql else None
    if path is not None:
        return _sql_rows(path, study, metrics, fields)
    return _client_rows(study, uri, metrics, fields, page_size)


def _client_rows(study: str, uri: Optional[str], metrics: list[str], fields: list[str],
                 page_size: int) -> Optional[list[dict[str, Any]]]:
    """Report rows through MlflowClient (any store), or None when the study does not exist."""
    client = mlflow_client(uri)
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return None
    return [_report_row(run.info.run_id, run.info.status, run.info.start_time, study, metrics, fields,
                        tags=run.data.tags, params=run.data.params, values=run.data.metrics)
            for run in trial_runs(client, experiment.experiment_id, page_size=page_size)]


def _sql_rows(path: Path, study: str, metrics: list[str],
              fields: list[str]) -> Optional[list[dict[str, Any]]]:
    """The same rows read from a SQLite store with a handful of queries (see sqlite_reader)."""
    tag_keys = [f"{TAG}{name}" for name in (*IDENTITY_TAGS, *fields)] + fields
    with sqlite_reader.connect(path) as connection:
        experiment = sqlite_reader.experiment_id(connection, study)
        if experiment is None:
            return None
        tags = sqlite_reader.values(connection, experiment, "tags", tag_keys)
        params = sqlite_reader.values(connection, experiment, "params", fields)
        values = sqlite_reader.latest_metrics(connection, experiment, metrics)
        return [_report_row(run_id, status, start, study, metrics, fields, tags=tags.get(run_id, {}),
                            params=params.get(run_id, {}), values=values.get(run_id, {}))
                for run_id, status, start in sqlite_reader.trial_runs(connection, experiment)]


def _report_row(run_id: str, status: str, start_time: int, study: str, metrics: list[str],
                fields: list[str], *, tags: dict[str, Any], params: dict[str, Any],
                values: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"run_id": run_id, "study": study, "status": status, "start_time": start_time}
    row |= {name: tags.get(f"{TAG}{name}") for name in IDENTITY_TAGS}
    row["outcome"] = row["outcome"] or OUTCOME_OF_STATUS.get(status, "running")
    row |= {name: values.get(name) for name in metrics}
    for name in fields:
        row[name] = params.get(name, tags.get(f"{TAG}{name}", tags.get(name)))
    return row


def latest_sweep(study: str, *, uri: Optional[str] = None) -> Optional[tuple[str, dict[str, Any]]]:
    """(run id, spec) of the study's latest sweep run, the spec ``{}`` if it has no spec.json."""
    client = read_client(uri)
    latest = latest_sweep_run(client, study)
    if latest is None:
        return None
    run_id = latest.info.run_id
    text = _artifact_text(client, run_id, "spec.json")
    return run_id, json.loads(text) if text is not None else {}


def metric_history(run_ids: Iterable[str], key: str, *, uri: Optional[str] = None) -> pd.DataFrame:
    """Every logged value of ``key`` for each run: columns ``run_id``, ``step``, ``value``.

    A SQLite store answers in one query per 500 runs; other stores take one request per run,
    so callers pass only the runs they plot, not a whole study.
    """
    path = sqlite_reader.sqlite_file(resolve_uri(uri))
    if path is not None:
        rows = sqlite_reader.metric_history(path, run_ids, key)
    else:
        client = read_client(uri)
        rows = [(run_id, m.step, m.value) for run_id in run_ids for m in client.get_metric_history(run_id, key)]
    return pd.DataFrame(rows, columns=["run_id", "step", "value"])


def read_csv_artifact(run_id: str, path: str, *, uri: Optional[str] = None) -> Optional[pd.DataFrame]:
    """A run's CSV artifact as a DataFrame, or None when the run has no file at ``path``."""
    text = _artifact_text(read_client(uri), run_id, path)
    if text is None:
        return None
    return pd.read_csv(io.StringIO(text))


def read_json_artifact(run_id: str, path: str, *, uri: Optional[str] = None) -> Optional[Any]:
    """A run's JSON artifact, or None when the run has no file at ``path``."""
    text = _artifact_text(mlflow_client(uri), run_id, path)
    return None if text is None else json.loads(text)


def _artifact_text(client: MlflowClient, run_id: str, path: str) -> Optional[str]:
    folder = os.path.dirname(path)
    if path not in {item.path for item in client.list_artifacts(run_id, folder or None)}:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        return Path(client.download_artifacts(run_id, path, scratch)).read_text()
