"""A SQLite store read by SQL gives exactly what MlflowClient gives (the path server stores take)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from orchestrator.bench.store import STUDY, build_store
from orchestrator.tracking import latest, reader
from orchestrator.tracking.names import SUMMARY_TOP1, TAG, TOP1
from orchestrator.tracking.writer import StudyTracker

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Finished copies, a failed run with a NaN metric and no summary, a deleted run, and a
    second study whose runs must not leak in."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    build_store(path, 11)
    uri = f"sqlite:///{path}"
    tracker = StudyTracker(STUDY, uri)
    plan = {"config_key": "odd", "label": "odd", "factors": {"model.depth": 3}, "seed": 0,
            "config": {"model": {"name": "resnet20"}, "train": {"epochs": 1}}}
    failed = tracker.start_trial(plan)
    tracker.log_metrics(failed, {TOP1: math.nan}, step=1)
    tracker.finish_trial(failed, status="FAILED", summary={}, tags={f"{TAG}outcome": "failed"})
    MlflowClient(uri).delete_run(tracker.start_trial(plan | {"seed": 1}))
    StudyTracker("other", uri).start_trial(plan)
    return uri


@pytest.mark.parametrize("metrics, fields", [
    ([TOP1, SUMMARY_TOP1, "never/logged"], ["seed", "train.epochs", "factor.model.depth", "mlflow.runName", "nothing"]),
    ([], []),
])
def test_sql_and_client_reads_give_equal_frames(store: str, metrics: list[str], fields: list[str]) -> None:
    by_sql = reader.read_trials(STUDY, uri=store, metrics=metrics, fields=fields)
    by_client = reader.read_trials(STUDY, uri=store, metrics=metrics, fields=fields, sql=False)
    assert len(by_sql) == 12  # 11 finished + 1 failed; the deleted run and the other study are out
    pd.testing.assert_frame_equal(by_sql, by_client)


def test_finished_run_keys_skips_failed_and_deleted_runs(store: str) -> None:
    keys = reader.finished_run_keys(reader.read_client(store), STUDY)
    assert len(keys) == 11 and "odd-s0" not in keys and "odd-s1" not in keys


def test_metric_history_by_sql_matches_the_client(store: str) -> None:
    runs = reader.read_trials(STUDY, uri=store, metrics=[])["run_id"].tolist()
    client = MlflowClient(store)
    expected = [(run, m.step, m.value) for run in runs for m in client.get_metric_history(run, TOP1)]
    history = reader.metric_history(runs, TOP1, uri=store)
    pd.testing.assert_frame_equal(history, pd.DataFrame(expected, columns=["run_id", "step", "value"]))


def test_an_unknown_study_is_named(store: str) -> None:
    with pytest.raises(Exception, match="no study named 'nope'"):
        reader.read_trials("nope", uri=store, metrics=[])


def test_the_objective_comes_from_the_latest_sweep_by_sql(store: str, tmp_path: Path) -> None:
    assert latest.study_objective(STUDY, uri=store) == (TOP1, "max")
    tracker = StudyTracker(STUDY, store)
    tracker.start_sweep({"search": {"kind": "grid", "repeats": 1, "metric": "val/loss", "mode": "min"}}, trial_count=1)
    assert latest.study_objective(STUDY, uri=store) == ("val/loss", "min")
    assert latest.study_objective("no_such_study", uri=store) == (TOP1, "max")


def test_sweep_start_and_reports_on_a_sqlite_store_never_open_an_mlflow_client(store: str, monkeypatch) -> None:
    """MlflowClient builds every run with all its params and metrics: a 10,000-run store takes
    tens of seconds that way. Starting a sweep and reading a report go by SQL instead."""
    def no_client(uri=None):
        raise AssertionError("opened an MlflowClient")

    monkeypatch.setattr(reader, "mlflow_client", no_client)
    sweep_client = type("SweepClient", (), {"tracking_uri": store})()  # the tracker's, no search methods
    assert len(reader.finished_run_keys(sweep_client, STUDY)) == 11
    assert len(reader.read_trials(STUDY, uri=store, metrics=[TOP1], fields=["seed"])) == 12
    assert latest.study_objective(STUDY, uri=store)[1] in ("max", "min")


def test_the_leaderboard_of_a_sqlite_store_never_imports_mlflow(store: str) -> None:
    """Importing MLflow takes seconds of a command that reads a few tables. A fresh interpreter,
    since this one imported MLflow to build the store."""
    probe = ("import sys; from orchestrator.cli import main; "
             f"main(['leaderboard', {STUDY!r}, '--tracking-uri', {store!r}], standalone_mode=False); "
             "print(sorted(name for name in sys.modules if name.split('.')[0] == 'mlflow'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
