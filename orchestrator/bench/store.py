"""Reads of a big study: a SQLite store of N trial runs, read by SQL and through MlflowClient,
and the ``leaderboard`` and ``report`` commands on it, each timed as a whole command.

The store holds a real sweep run and real trial runs written by the sweep's own writer (params,
per-epoch metrics, summary, outcome); the rest are copies of those with their identity and
metrics varied, made with SQL, because MLflow has no bulk insert and writing 10,000 runs
through its client takes the better part of an hour.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..tracking import reader
from ..tracking.names import SUMMARY_TOP1, TAG, TOP1
from ..tracking.writer import StudyTracker
from . import process

STUDY = "bench_store"
TEMPLATES = 3  # runs written by the writer; the others copy them
PER_CONFIG = 3  # seeds per configuration
SPEC = {"name": STUDY, "search": {"kind": "grid", "repeats": PER_CONFIG, "metric": TOP1, "mode": "max"}}
TABLES = ("runs", "tags", "params", "metrics", "latest_metrics")


def _template(tracker: StudyTracker, index: int, epochs: int) -> str:
    config = {"data": {"dataset": "synthetic", "batch_size": 64}, "model": {"name": "resnet20"},
              "train": {"epochs": epochs, "optimizer": {"name": "sgd", "lr": 0.05}}}
    config_key = f"c{index // PER_CONFIG}"
    run_id = tracker.start_trial({"config_key": config_key, "label": f"config {index // PER_CONFIG}",
                                  "factors": {}, "seed": index % PER_CONFIG, "config": config})
    for epoch in range(1, epochs + 1):
        tracker.log_metrics(run_id, {TOP1: 10.0 * epoch, "val/loss": 1.0 / epoch, "train/loss": 1.0 / epoch},
                            step=epoch)
    tracker.finish_trial(run_id, status="FINISHED", summary={SUMMARY_TOP1: 10.0 * epochs},
                         tags={f"{TAG}outcome": "finished"})
    return run_id


def _copy_rows(connection, table: str, columns: list[str], source: str, target: str) -> None:
    chosen = ", ".join("?" if column == "run_uuid" else column for column in columns)
    connection.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {chosen} FROM {table} "
                       f"WHERE run_uuid = ?", (target, source))


def build_store(path: Path, runs: int, *, epochs: int = 3) -> None:
    """A store at ``path`` with one sweep run and ``runs`` finished trial runs (``PER_CONFIG``
    seeds per configuration, accuracies spread so the ranking has work to do)."""
    import sqlite3

    tracker = StudyTracker(STUDY, f"sqlite:///{path}")
    tracker.start_sweep(SPEC, trial_count=runs)
    templates = [_template(tracker, index, epochs) for index in range(min(TEMPLATES, runs))]
    tracker.end_sweep()
    with sqlite3.connect(path) as connection:
        columns = {table: [row[1] for row in connection.execute(f"PRAGMA table_info({table})")] for table in TABLES}
        for index in range(len(templates), runs):
            source, target = templates[index % len(templates)], uuid.uuid4().hex
            for table in TABLES:
                _copy_rows(connection, table, columns[table], source, target)
            identity = {"config_key": f"c{index // PER_CONFIG}", "run_key": f"c{index // PER_CONFIG}-s{index % PER_CONFIG}",
                        "label": f"config {index // PER_CONFIG}", "seed": str(index % PER_CONFIG)}
            connection.executemany("UPDATE tags SET value = ? WHERE run_uuid = ? AND key = ?",
                                   [(value, target, f"{TAG}{key}") for key, value in identity.items()])
            connection.execute("UPDATE runs SET start_time = start_time + ?, name = ? WHERE run_uuid = ?",
                               (index, identity["run_key"], target))
            connection.execute("UPDATE latest_metrics SET value = value - ? WHERE run_uuid = ? AND key IN (?, ?)",
                               ((index * 7919) % 1000 / 100, target, TOP1, SUMMARY_TOP1))


@dataclass(frozen=True)
class StoreBench:
    runs: int
    build: float
    sql: float  # read_trials by SQL
    client: float  # read_trials through MlflowClient (what a server store gets)
    same: bool  # both reads gave equal frames
    start: float  # what starting a sweep reads: the finished run keys
    leaderboard: float  # `orchestrate leaderboard` as a whole command
    report: float  # `orchestrate report` as a whole command


def _seconds(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _command(folder: Path, *argv: str) -> float:
    return process.run([sys.executable, "-m", "orchestrator.cli", *argv], folder).wall


def bench_store(folder: Path, runs: int) -> StoreBench:
    """Build the store in ``folder`` and time each read of it."""
    path = folder / "mlflow.db"
    uri = f"sqlite:///{path}"
    build, _ = _seconds(lambda: build_store(path, runs))
    metrics = [TOP1, SUMMARY_TOP1]
    sql, by_sql = _seconds(lambda: reader.read_trials(STUDY, uri=uri, metrics=metrics, fields=["seed"]))
    client, by_client = _seconds(lambda: reader.read_trials(STUDY, uri=uri, metrics=metrics, fields=["seed"],
                                                            sql=False))
    start, _ = _seconds(lambda: reader.finished_run_keys(reader.read_client(uri), STUDY))
    return StoreBench(
        runs, build, sql, client, same=by_sql.equals(by_client), start=start,
        leaderboard=_command(folder, "leaderboard", STUDY, "--tracking-uri", uri),
        report=_command(folder, "report", STUDY, "--tracking-uri", uri, "--out", str(folder / "report"), "--no-log"),
    )
