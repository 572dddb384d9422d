"""The README's first command, shortened: the real console script on the quickstart spec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
import pandas as pd


def orchestrate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["orchestrate", *args], capture_output=True, text=True, timeout=900)


def test_quickstart_runs_end_to_end_from_the_cli(tmp_path: Path) -> None:
    sweep = orchestrate("sweep", "quickstart.yaml", "train.epochs=1", "data.subset=192")
    assert sweep.returncode == 0, sweep.stderr
    assert "study quickstart: 8 finished, 0 pruned, 0 failed" in sweep.stdout
    assert "epoch 1/1 val/top1" in sweep.stdout  # the live progress lines

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["quickstart"])
    parent = runs[runs["tags.orchestrate.kind"] == "sweep"]
    children = runs[runs["tags.orchestrate.kind"] == "trial"]
    assert len(parent) == 1 and len(children) == 8
    assert len(set(zip(children["tags.orchestrate.config_key"], children["tags.orchestrate.seed"]))) == 8
    client = mlflow.MlflowClient()
    for run_id in children["run_id"]:
        assert [m.step for m in client.get_metric_history(run_id, "val/top1")] == [1]

    board = orchestrate("leaderboard", "quickstart", "--csv", "board.csv")
    assert board.returncode == 0, board.stderr
    table = pd.read_csv(tmp_path / "board.csv")
    assert sorted(table["label"]) == ["baseline", "k_size=3", "k_size=5", "k_size=7"]
    assert (table["n_seeds"] == 2).all()
