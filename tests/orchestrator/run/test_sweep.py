"""Real sweeps: local Ray, the shared trainer, an MLflow SQLite store; contents asserted."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.report import leaderboard
from orchestrator.report.basis import FINAL
from orchestrator.run.sweep import run_sweep
from orchestrator.study import parse_spec

SMALL_DATA = {"dataset": "synthetic", "batch_size": 32,
              "options": {"num_classes": 4, "train_size": 256, "val_size": 64, "image_size": 16}}


def small_spec(store_uri: str, **search) -> dict:
    return {
        "name": "tiny",
        "data": SMALL_DATA,
        "model": {"name": "resnet20", "attention": "eca", "attention_kwargs": {"k_size": 3}},
        "train": {"epochs": 2, "optimizer": {"name": "sgd", "lr": 0.05}},
        "search": {"kind": "ablation", "baseline": {"model.attention": None},
                   "factors": {"model.attention_kwargs.k_size": [5],
                               "model.attention_position": ["after_add"]},
                   "repeats": 2, **search},
        "tracking": {"uri": store_uri},
    }


def runs_of(store_uri: str, study: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(store_uri)
    return mlflow.search_runs(experiment_names=[study])


@pytest.fixture(scope="module")
def finished_sweep(ray_local, tmp_path_factory):
    """One real ablation sweep shared by the assertions below: a baseline and two factors, each
    changed alone (3 configurations) x 2 seeds."""
    folder = tmp_path_factory.mktemp("sweep")
    store_uri = f"sqlite:///{folder / 'mlflow.db'}"
    spec = parse_spec(small_spec(store_uri) | {"resources": {"storage": str(folder / "ray")}})
    outcome = run_sweep(spec, echo=lambda line: None)
    return store_uri, outcome


def test_sweep_records_a_parent_and_one_child_per_configuration_and_seed(finished_sweep) -> None:
    store_uri, outcome = finished_sweep
    runs = runs_of(store_uri, "tiny")
    parents = runs[runs["tags.orchestrate.kind"] == "sweep"]
    children = runs[runs["tags.orchestrate.kind"] == "trial"]
    assert len(parents) == 1 and parents["status"].tolist() == ["FINISHED"]
    assert (children["tags.mlflow.parentRunId"] == parents["run_id"].iloc[0]).all()
    assert sorted(zip(children["tags.orchestrate.label"], children["tags.orchestrate.seed"])) == [
        ("attention_position=\"after_add\"", "0"), ("attention_position=\"after_add\"", "1"),
        ("baseline", "0"), ("baseline", "1"), ("k_size=5", "0"), ("k_size=5", "1")]
    assert children["tags.orchestrate.run_key"].is_unique
    assert children.groupby("tags.orchestrate.config_key")["tags.orchestrate.seed"].nunique().eq(2).all()
    assert (children["status"] == "FINISHED").all()
    assert outcome.tally.finished == 6 and not outcome.tally.failed


def test_tune_keeps_each_trials_results_file_and_writes_no_logs_nobody_reads(finished_sweep) -> None:
    store_uri, _ = finished_sweep
    trials = Path(store_uri.removeprefix("sqlite:///")).parent / "ray"
    assert len({path.parent for path in trials.rglob("result.json")}) == 6
    assert not [*trials.rglob("progress.csv"), *trials.rglob("events.out.tfevents*")]


def test_tunes_saved_state_of_a_trial_does_not_carry_the_stages_plans(finished_sweep) -> None:
    store_uri, _ = finished_sweep
    states = [*(Path(store_uri.removeprefix("sqlite:///")).parent / "ray").rglob("experiment_state*.json")]
    trials = [json.loads(trial) for state in states for trial, _ in json.loads(state.read_text())["trial_data"]]
    assert len(trials) == 6
    for trial in trials:
        for key in ("trial_name_creator", "trial_dirname_creator"):
            names = pickle.loads(bytes.fromhex(trial[key]["value"]))
            # A closure over the lookup held every plan: the saved state grew as trials x plans.
            assert getattr(names, "lookup", "a closure") is None, key


def test_child_runs_hold_params_histories_summary_and_config(finished_sweep) -> None:
    store_uri, _ = finished_sweep
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    children = runs_of(store_uri, "tiny").query("`tags.orchestrate.kind` == 'trial'")
    for _, run in children.iterrows():
        history = client.get_metric_history(run["run_id"], "val/top1")
        assert sorted(m.step for m in history) == [1, 2]
        assert run["metrics.summary/best_top1"] == max(m.value for m in history)
        assert run["metrics.summary/final_top1"] == max(history, key=lambda m: m.step).value
        assert run["metrics.summary/params"] > 0 and run["metrics.summary/train_seconds"] > 0
        assert run["params.data.dataset"] == "synthetic" and run["params.seed"] == run["tags.orchestrate.seed"]
        config = json.loads(open(client.download_artifacts(run["run_id"], "trial_config.json")).read())
        assert config["seed"] == int(run["tags.orchestrate.seed"])
        attention = None if run["tags.orchestrate.label"] == "baseline" else "eca"
        assert config["model"]["attention"] == attention


# Every file a finished trial's run holds: what a user opens in the MLflow UI or downloads.
TRIAL_FILES = {"trial_config.json", "per_class_accuracy.csv", "confusion_matrix.csv",
               "best_worst_classes.csv", "confusion_matrix.png", "summary.json"}


def logged_files(client: mlflow.MlflowClient, run_id: str, folder: str = "") -> set[str]:
    files = set()
    for item in client.list_artifacts(run_id, folder or None):
        files |= logged_files(client, run_id, item.path) if item.is_dir else {item.path}
    return files


def test_every_trial_run_holds_every_report_file_and_the_parent_its_spec(finished_sweep) -> None:
    store_uri, _ = finished_sweep
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    runs = runs_of(store_uri, "tiny")
    for _, run in runs[runs["tags.orchestrate.kind"] == "trial"].iterrows():
        assert logged_files(client, run["run_id"]) == TRIAL_FILES, run["tags.orchestrate.label"]
        png = Path(client.download_artifacts(run["run_id"], "confusion_matrix.png"))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        per_class = pd.read_csv(client.download_artifacts(run["run_id"], "per_class_accuracy.csv"))
        assert len(per_class) == SMALL_DATA["options"]["num_classes"]
    parent = runs[runs["tags.orchestrate.kind"] == "sweep"]["run_id"].iloc[0]
    assert "spec.json" in logged_files(client, parent)


def test_leaderboard_matches_runs_recomputed_here(finished_sweep) -> None:
    store_uri, _ = finished_sweep
    children = runs_of(store_uri, "tiny").query("`tags.orchestrate.kind` == 'trial'")
    table = leaderboard("tiny", uri=store_uri)
    assert len(table) == 3 and table["rank"].tolist() == [1, 2, 3]
    assert table["top1_mean"].is_monotonic_decreasing
    assert table.attrs["basis"] is FINAL  # no held-out split: the headline is the final epoch's top-1
    for _, row in table.iterrows():
        mine = children[children["tags.orchestrate.config_key"] == row["config_key"]]
        top1 = mine["metrics.summary/final_top1"]
        assert row["n_seeds"] == 2
        assert row["top1_mean"] == pytest.approx(top1.mean())
        assert row["top1_std"] == pytest.approx(top1.std(ddof=1))
        assert row["top5_mean"] == pytest.approx(mine["metrics.summary/top5_at_best"].mean())
        assert row["params_m"] == pytest.approx(mine["metrics.summary/params"].mean() / 1e6)


def test_rerunning_a_finished_sweep_runs_nothing_again(finished_sweep, tmp_path) -> None:
    store_uri, _ = finished_sweep
    lines: list[str] = []
    spec = parse_spec(small_spec(store_uri) | {"resources": {"storage": str(tmp_path / "ray")}})
    outcome = run_sweep(spec, echo=lines.append)
    assert outcome.skipped == 6 and outcome.tally.finished == 0
    runs = runs_of(store_uri, "tiny")
    assert (runs["tags.orchestrate.kind"] == "trial").sum() == 6
    assert (runs["tags.orchestrate.kind"] == "sweep").sum() == 1  # no new, empty parent run


def test_the_parent_run_records_provenance_and_the_leaderboard(finished_sweep) -> None:
    store_uri, outcome = finished_sweep
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    tags = client.get_run(outcome.parent_run_id).data.tags
    for name in ("torch", "torchvision", "timm", "ray", "mlflow", "optuna", "orchestrate", "python"):
        assert tags[f"orchestrate.provenance.version.{name}"]
    assert {"host", "cpu", "gpu", "cuda", "cudnn", "command"} <= {
        k.removeprefix("orchestrate.provenance.") for k in tags}
    note = tags["mlflow.note.content"]
    assert note.startswith("### Study `tiny`: leaderboard") and "| top-1 (%) |" in note
    assert note.count("\n| ") == 2 + 3  # header, rule, one row per configuration


def test_the_experiment_opens_on_the_training_runs_view(finished_sweep) -> None:
    store_uri, _ = finished_sweep
    experiment = mlflow.MlflowClient(tracking_uri=store_uri).get_experiment_by_name("tiny")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_trial_runs_record_device_node_and_per_epoch_memory(finished_sweep) -> None:
    store_uri, _ = finished_sweep
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    children = runs_of(store_uri, "tiny").query("`tags.orchestrate.kind` == 'trial'")
    assert (children["tags.orchestrate.device"] == "cpu").all() and children["tags.orchestrate.node"].notna().all()
    assert (children["tags.orchestrate.cuda_graphs"] == "off: the trial trains on cpu (CUDA graphs need CUDA)").all()
    for run_id in children["run_id"]:
        assert [m.step for m in client.get_metric_history(run_id, "sys/rss_mb")] == [1, 2]
    assert set(children["tags.mlflow.runName"]) == {f"{label} s{seed}" for label, seed in zip(
        children["tags.orchestrate.label"], children["tags.orchestrate.seed"])}


def test_a_diverged_trial_fails_its_run_at_once_and_the_sweep_goes_on_and_exits_1(ray_local, store_uri) -> None:
    # lr 1e6 diverges to NaN in its first epoch: the trainer raises, the trial reports its
    # failure, and it is not retried despite max_failures (it would fail again from any
    # checkpoint). A model that cannot run at the study's size, the other case this test had,
    # is now refused when the spec is read (test_cli.py).
    raw = small_spec(store_uri, factors={"train.optimizer.lr": [1e6]}, repeats=1)
    raw["model"] = {"name": "resnet20"}
    raw["search"]["baseline"] = {"train.optimizer.lr": 0.05}
    raw["resources"] = {"max_failures": 2}
    Path("tiny.yaml").write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["sweep", "tiny.yaml"])
    assert result.exit_code == 1, result.output
    assert "1 finished, 0 pruned, 1 failed" in result.output
    assert "failed lr=1e+06 s0: NonFiniteLossError: training loss is nan; the run diverged" in result.output
    children = runs_of(store_uri, "tiny").query("`tags.orchestrate.kind` == 'trial'")
    status = dict(zip(children["tags.orchestrate.label"], children["status"]))
    assert status == {"baseline": "FINISHED", "lr=1e+06": "FAILED"}
    reasons = dict(zip(children["tags.orchestrate.label"], children["tags.orchestrate.failure"]))
    assert reasons["lr=1e+06"] == "NonFiniteLossError: training loss is nan; the run diverged"
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    for run_id in children.loc[children["status"] == "FAILED", "run_id"]:
        trace = open(client.download_artifacts(run_id, "error.txt")).read()
        assert '.py", line' in trace and "\x1b[" not in trace  # a plain-text traceback
        assert trace.count("Failure # ") == 1  # Tune's error file gains one entry per attempt
