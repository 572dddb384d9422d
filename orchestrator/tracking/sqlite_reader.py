"""Reading a SQLite store with SQL: a study's trial runs in a few queries, not one ORM object each.

MLflow's ``search_runs`` builds every run with all its params, metrics and tags (seconds per
thousand runs); a report needs a dozen columns of them. For a ``sqlite:///`` store this module
queries MLflow's documented tables (``experiments``, ``runs``, ``tags``, ``params``,
``latest_metrics``, ``metrics``) read-only through :mod:`sqlite3`, and returns exactly what the
MlflowClient path of :mod:`.reader` returns. Servers and other databases keep that path.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator, Optional

from .names import KIND_SWEEP, KIND_TRIAL, TAG

# The active trial runs of an experiment, in search_runs' order (start time, then run id).
TRIAL_RUNS = f"""
    SELECT r.run_uuid, r.status, r.start_time FROM runs r
    JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = '{TAG}kind' AND k.value = '{KIND_TRIAL}'
    WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active'
    ORDER BY r.start_time ASC, r.run_uuid ASC
"""
# Rows of ``table`` for those runs and the named keys; the run list is joined, not sent back.
FOR_TRIALS = """
    SELECT x.run_uuid, x.key, {columns} FROM {table} x
    JOIN runs r ON r.run_uuid = x.run_uuid
    JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = '{kind}' AND k.value = '{trial}'
    WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active' AND x.key IN ({keys})
"""


def sqlite_file(uri: str) -> Optional[Path]:
    """The database file of a ``sqlite:///`` URI that exists, else None (use the client)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return path if path.is_file() else None


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection: a report never locks out the sweep that writes the store."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def experiment_id(connection: sqlite3.Connection, study: str) -> Optional[str]:
    row = connection.execute("SELECT experiment_id FROM experiments WHERE name = ?", (study,)).fetchone()
    return None if row is None else str(row[0])


def trial_runs(connection: sqlite3.Connection, experiment: str) -> list[tuple[str, str, int]]:
    """(run id, status, start time) of every trial run, oldest first."""
    return connection.execute(TRIAL_RUNS, (experiment,)).fetchall()


def values(connection: sqlite3.Connection, experiment: str, table: str, keys: Iterable[str],
           *, columns: str = "x.value") -> dict[str, dict[str, object]]:
    """run id -> {key: value} of ``table`` (tags, params, latest_metrics) for the trial runs."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, dict[str, object]] = defaultdict(dict)
    if not keys:
        return found
    query = FOR_TRIALS.format(columns=columns, table=table, kind=f"{TAG}kind", trial=KIND_TRIAL,
                              keys=", ".join("?" * len(keys)))
    for run_id, key, *value in connection.execute(query, (experiment, *keys)):
        found[run_id][key] = value[0] if len(value) == 1 else value
    return found


def latest_metrics(connection: sqlite3.Connection, experiment: str,
                   keys: Iterable[str]) -> dict[str, dict[str, object]]:
    """run id -> {metric: last value}; MLflow stores NaN as a flag beside a placeholder value."""
    rows = values(connection, experiment, "latest_metrics", keys, columns="x.value, x.is_nan")
    return {run: {key: math.nan if is_nan else float(value) for key, (value, is_nan) in metrics.items()}
            for run, metrics in rows.items()}


def metric_history(path: Path, run_ids: Iterable[str], key: str) -> list[tuple[str, int, float]]:
    """(run id, step, value) of every logged ``key`` of the runs, in one query per 500 runs."""
    run_ids = list(run_ids)
    rows: list[tuple[str, int, float]] = []
    with connect(path) as connection:
        for start in range(0, len(run_ids), 500):  # SQLite's default limit on bound variables is 999
            chunk = run_ids[start:start + 500]
            query = (f"SELECT run_uuid, step, value, is_nan FROM metrics WHERE key = ? AND run_uuid IN "
                     f"({', '.join('?' * len(chunk))}) ORDER BY run_uuid, timestamp, step, value")
            rows += [(run, step, math.nan if is_nan else value)
                     for run, step, value, is_nan in connection.execute(query, (key, *chunk))]
    order = {run_id: index for index, run_id in enumerate(run_ids)}
    return sorted(rows, key=lambda row: order[row[0]])


LATEST_SWEEP = f"""
    SELECT r.run_uuid, r.artifact_uri FROM runs r
    JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = '{TAG}kind' AND k.value = '{KIND_SWEEP}'
    WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active'
    ORDER BY r.start_time DESC, r.run_uuid ASC LIMIT 1
"""


def _latest_sweep(connection: sqlite3.Connection, study: str) -> Optional[tuple[str, str]]:
    """(run id, artifact URI) of the study's most recent sweep (parent) run, or None."""
    experiment = experiment_id(connection, study)
    return None if experiment is None else connection.execute(LATEST_SWEEP, (experiment,)).fetchone()


def latest_sweep_params(path: Path, study: str) -> Optional[dict[str, str]]:
    """The params of the study's most recent sweep (parent) run, or None when it has none."""
    with connect(path) as connection:
        row = _latest_sweep(connection, study)
        if row is None:
            return None
        return dict(connection.execute("SELECT key, value FROM params WHERE run_uuid = ?", row[:1]).fetchall())


def latest_sweep_file(path: Path, study: str, name: str) -> Optional[str]:
    """The text of artifact ``name`` of the study's latest sweep run when its artifacts are local
    files (a SQLite store's default); None when the run or the file is absent. Raises LookupError
    for artifacts elsewhere (a server or an object store), which only MLflow can read."""
    with connect(path) as connection:
        row = _latest_sweep(connection, study)
    if row is None:
        return None
    location = row[1].removeprefix("file://")
    if not location.startswith("/"):
        raise LookupError(row[1])
    file = Path(location) / name
    return file.read_text() if file.is_file() else None
