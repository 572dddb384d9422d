"""Fused trials through a real sweep: each member of a fused Tune trial is its own MLflow run,
as it would be unfused; a member that diverges fails alone."""

from __future__ import annotations

import mlflow
import pytest

from orchestrator.run.sweep import run_sweep
from orchestrator.study import parse_spec
from orchestrator.train.fused import FUSED_GRAPHS
from tests.orchestrator.run.test_sweep import TRIAL_FILES, logged_files, runs_of, small_spec


def lr_study(store_uri: str, folder: str, name: str, fused: int) -> dict:
    """A baseline and two LRs (one diverges to NaN), two seeds: six plans of one shape."""
    raw = small_spec(store_uri, factors={"train.optimizer.lr": [0.1, 1e6]}, repeats=2)
    raw["search"]["baseline"] = {"train.optimizer.lr": 0.05}
    return raw | {"name": name, "resources": {"fused_trials": fused, "storage": folder, "max_failures": 0}}


@pytest.fixture(scope="module")
def both_sweeps(ray_local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fused")
    store_uri = f"sqlite:///{folder / 'mlflow.db'}"
    outcomes = {name: run_sweep(parse_spec(lr_study(store_uri, str(folder / "ray"), name, k)), echo=lambda _: None)
                for name, k in (("fused", 3), ("apart", 1))}
    return store_uri, outcomes, folder


def children(store_uri: str, study: str):
    runs = runs_of(store_uri, study)
    return runs[runs["tags.orchestrate.kind"] == "trial"].sort_values("tags.orchestrate.run_key")


def test_each_member_is_its_own_run_with_the_same_params_and_status_as_apart(both_sweeps) -> None:
    store_uri, outcomes, folder = both_sweeps
    fused, apart = children(store_uri, "fused"), children(store_uri, "apart")
    assert len(fused) == 6 and fused["tags.orchestrate.run_key"].is_unique
    params = [c for c in apart.columns if c.startswith("params.")]
    assert fused[["tags.orchestrate.run_key", *params]].values.tolist() == \
        apart[["tags.orchestrate.run_key", *params]].values.tolist()
    assert fused["status"].tolist() == apart["status"].tolist()
    tune_trials = {path.parent for path in (folder / "ray" / "fused").rglob("result.json")}
    assert len(tune_trials) == 2  # six plans in groups of three, each with a member that diverges and one that does not
    assert outcomes["fused"].tally.finished == 4 and len(outcomes["fused"].tally.failed) == 2


def test_a_member_that_diverges_fails_alone_with_its_reason(both_sweeps) -> None:
    store_uri, _, _ = both_sweeps
    runs = children(store_uri, "fused")
    status = dict(zip(runs["tags.orchestrate.run_key"], zip(runs["tags.orchestrate.label"], runs["status"])))
    assert {label: s for label, s in status.values()} == {"baseline": "FINISHED", "lr=0.1": "FINISHED",
                                                          "lr=1e+06": "FAILED"}
    failed = runs[runs["status"] == "FAILED"]
    assert failed["tags.orchestrate.failure"].str.contains("diverged").all()


def test_each_finished_member_holds_its_epochs_and_its_own_final_report(both_sweeps) -> None:
    store_uri, _, _ = both_sweeps
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    runs = children(store_uri, "fused")
    for run_id in runs.loc[runs["status"] == "FINISHED", "run_id"]:
        assert [m.step for m in client.get_metric_history(run_id, "val/top1")] == [1, 2]
        assert logged_files(client, run_id) == TRIAL_FILES
    top1 = runs.loc[runs["status"] == "FINISHED", "metrics.val/top1"]
    assert top1.nunique() > 1  # each run its own member's numbers, not one member's logged into all


def test_each_finished_member_logs_the_numbers_of_its_plan_trained_apart(both_sweeps) -> None:
    """The sweep hands each member its own plan's seed and sends its metrics to its own run: the
    runs of one run key agree in training loss within the fused tolerance (tests/orchestrator/train/
    test_fused.py). The validation loss after two epochs at LR 0.1 moves by a few percent with the
    worker's thread count alone, so it is compared there, not here."""
    store_uri, _, _ = both_sweeps
    fused, apart = (children(store_uri, name).set_index("tags.orchestrate.run_key") for name in ("fused", "apart"))
    finished = fused.index[fused["status"] == "FINISHED"]
    assert len(finished) == 4
    key = "metrics.train/loss"
    assert fused.loc[finished, key].tolist() == pytest.approx(apart.loc[finished, key].tolist(), rel=1e-3)
    assert apart.loc[finished, "metrics.train/loss"].round(4).nunique() == 4  # seeds and LRs really differ


def test_a_members_run_holds_every_metric_and_tag_an_unfused_run_holds(both_sweeps) -> None:
    """Node, resumed-from epoch, device, memory: what a lone trial records, a fused member does too."""
    store_uri, _, _ = both_sweeps
    fused, apart = children(store_uri, "fused"), children(store_uri, "apart")

    def recorded(runs):
        finished = runs[runs["status"] == "FINISHED"]
        return {column for column in finished.columns
                if column.startswith(("metrics.", "tags.")) and finished[column].notna().all()}

    assert recorded(fused) == recorded(apart)
    finished = fused[fused["status"] == "FINISHED"]
    assert (finished["tags.orchestrate.cuda_graphs"] == FUSED_GRAPHS).all()  # not the member trainer's own
