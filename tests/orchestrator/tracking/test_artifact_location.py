"""A study on a SQLite store keeps its artifacts beside the database, wherever the sweep ran from."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.tracking.writer import StudyTracker

SEARCH = {"search": {"kind": "grid", "repeats": 1, "metric": "val/top1", "mode": "max"}}


def test_a_sqlite_studys_artifacts_go_beside_its_database_not_into_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "study").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    tracker = StudyTracker("eca", f"sqlite:///{tmp_path / 'study' / 'mlflow.db'}")
    parent = tracker.start_sweep(SEARCH, trial_count=1)

    artifacts = Path(tracker.client.get_run(parent).info.artifact_uri.removeprefix("file://"))
    assert artifacts.is_relative_to(tmp_path / "study" / "mlruns" / "eca")
    assert (artifacts / "spec.json").is_file()
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_studys_existing_experiment_keeps_its_artifact_location(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = StudyTracker("eca", uri)
    first.start_sweep(SEARCH, trial_count=1)
    again = StudyTracker("eca", uri)
    assert again.experiment_id == first.experiment_id
    assert again.client.get_experiment(again.experiment_id).artifact_location == str(tmp_path / "mlruns" / "eca")
