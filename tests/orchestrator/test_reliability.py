"""Chaos and recovery: killed workers and drivers, resume, and concurrent writers on one store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import psutil
import pytest
import torch
import yaml

from orchestrator.errors import ResumeError
from orchestrator.faults import FAULT_ENV
from orchestrator.space import expand
from orchestrator.spec import parse_spec
from orchestrator.sweep import prepare, run_sweep
from orchestrator.tracking import reader
from orchestrator.tracking.writer import StudyTracker
from orchestrator.train import Trainer
from orchestrator.trial import RESUMED_FROM_KEY

DATA = {"dataset": "synthetic", "batch_size": 32,
        "options": {"num_classes": 4, "train_size": 128, "val_size": 64, "image_size": 16}}
COMPARED = ("train/loss", "train/top1", "val/loss", "val/top1", "val/top5", "opt/lr")


def study(name: str, store_uri: str, *, lrs: list[float], epochs: int = 4, **resources) -> dict:
    return {"name": name, "data": DATA, "model": {"name": "resnet20"},
            "train": {"epochs": epochs, "optimizer": {"name": "sgd", "lr": 0.05}},
            "search": {"kind": "grid", "factors": {"train.optimizer.lr": lrs}},
            "tracking": {"uri": store_uri}, "resources": {"cpus_per_trial": 1, **resources}}


def trial_runs(store_uri: str, name: str):
    mlflow.set_tracking_uri(store_uri)
    runs = mlflow.search_runs(experiment_names=[name])
    return runs[runs["tags.orchestrate.kind"] == "trial"]


def histories(store_uri: str, run_id: str) -> dict[str, list[tuple[int, float]]]:
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    return {key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key)) for key in COMPARED}


def uninterrupted(raw: dict) -> dict[str, list[tuple[int, float]]]:
    """The same (configuration, seed) trained straight through in this process, one thread."""
    plan = expand(parse_spec(raw))[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the trial: Ray gives it one CPU
    try:
        history = Trainer.from_config(plan.config, seed=plan.seed).fit()
    finally:
        torch.set_num_threads(threads)
    return {key: [(int(m["epoch"]), m[key]) for m in history] for key in COMPARED}


def steps_logged(store_uri: str, name: str) -> int:
    runs = trial_runs(store_uri, name) if mlflow.MlflowClient(store_uri).get_experiment_by_name(name) else []
    if len(runs) == 0:
        return 0
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    return max(len(client.get_metric_history(r, "val/top1")) for r in runs["run_id"])


def wait_for(condition, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.5)


def attempts(storage: Path) -> list[list[dict]]:
    """Each worker process's results, in order: Tune appends every attempt to result.json and
    adds the reporting process's pid to each result."""
    (path,) = storage.rglob("result.json")
    results = [json.loads(line) for line in path.read_text().splitlines()]
    pids = list(dict.fromkeys(result["pid"] for result in results))
    return [[result for result in results if result["pid"] == pid] for pid in pids]


@pytest.mark.parametrize(("checkpoint_every", "kill_after", "restored"), [(1, 2, 2), (2, 3, 2)])
def test_a_killed_trial_worker_is_retried_from_its_checkpoint_with_identical_metrics(
        ray_local, store_uri, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        checkpoint_every: int, kill_after: int, restored: int) -> None:
    # The trial SIGKILLs its own worker once, right after reporting epoch `kill_after`; with a
    # checkpoint every second epoch the retry re-runs epoch 3, which must not be logged twice.
    monkeypatch.setenv(FAULT_ENV, f"kill_after_epoch:{kill_after}")
    raw = study("chaos_worker", store_uri, lrs=[0.05], max_failures=1, checkpoint_every=checkpoint_every,
                storage=str(tmp_path / "ray"))
    outcome = run_sweep(parse_spec(raw), echo=lambda line: None)

    first, second = attempts(tmp_path / "ray")
    assert [r["epoch"] for r in first] == list(range(1, kill_after + 1))
    assert [r["epoch"] for r in second] == list(range(restored + 1, 5))  # not from epoch 1
    assert {r[RESUMED_FROM_KEY] for r in first} == {0} and {r[RESUMED_FROM_KEY] for r in second} == {restored}
    runs = trial_runs(store_uri, "chaos_worker")
    assert len(runs) == 1 and runs["status"].tolist() == ["FINISHED"]
    assert outcome.tally.finished == 1 and not outcome.tally.failed
    assert histories(store_uri, runs["run_id"].iloc[0]) == uninterrupted(raw)  # no step twice


def test_resume_is_refused_for_a_study_that_never_ran(store_uri) -> None:
    with pytest.raises(ResumeError, match="has no sweep to resume"):
        prepare(parse_spec(study("never", store_uri, lrs=[0.1])), resume=True)


def test_interrupted_runs_are_found_again_by_their_key(store_uri) -> None:
    spec = parse_spec(study("interrupted", store_uri, lrs=[0.1]))
    tracker = StudyTracker("interrupted", store_uri)
    tracker.start_sweep(spec.model_dump(mode="json"), trial_count=1)
    plan = expand(spec)[0]
    run_id = tracker.start_trial(plan.to_dict())
    tracker.log_metrics(run_id, {"val/top1": 50.0}, step=1)
    tracker.mark_interrupted(run_id)
    unfinished = reader.unfinished_trials(tracker.client, tracker.study)
    assert {k: r.info.run_id for k, r in unfinished.items()} == {plan.run_key: run_id}
    assert tracker.reopen_trial(run_id) == 1
    with pytest.raises(ResumeError, match="1 interrupted runs"):
        prepare(spec, resume=False)


def test_every_run_is_read_when_a_study_has_more_runs_than_a_page(store_uri) -> None:
    spec = parse_spec(study("paged", store_uri, lrs=[0.1, 0.09, 0.08, 0.07, 0.06]))
    tracker = StudyTracker("paged", store_uri)
    tracker.start_sweep(spec.model_dump(mode="json"), trial_count=5)
    plans = expand(spec)
    run_ids = [tracker.start_trial(plan.to_dict()) for plan in plans]
    for run_id in run_ids[:2]:
        tracker.finish_trial(run_id, status="FINISHED", summary={}, tags={})
    for run_id in run_ids[2:]:
        tracker.mark_interrupted(run_id)
    table = reader.read_trials("paged", uri=store_uri, metrics=[], page_size=2)
    assert sorted(table["run_id"]) == sorted(run_ids)
    unfinished = reader.unfinished_trials(tracker.client, "paged", page_size=2)
    assert {k: r.info.run_id for k, r in unfinished.items()} == {p.run_key: r for p, r in zip(plans[2:], run_ids[2:])}
    finished = reader.finished_run_keys(tracker.client, "paged", page_size=1)
    assert finished == {plan.run_key for plan in plans[:2]}


@pytest.mark.slow  # two Ray clusters and eight trainings at once: minutes on 2 shared cores
def test_two_sweeps_share_one_store_with_eight_concurrent_trials(store_uri, tmp_path: Path) -> None:
    """Two drivers, each running four trials at once, write one SQLite store."""
    processes = []
    for name in ("left", "right"):
        raw = study(name, store_uri, lrs=[0.05, 0.04, 0.03, 0.02], epochs=2, cpus_per_trial=0.25)
        raw["data"] = {**DATA, "options": {**DATA["options"], "train_size": 128}}
        spec_file = tmp_path / f"{name}.yaml"
        spec_file.write_text(yaml.safe_dump(raw))
        processes.append(subprocess.Popen(["orchestrate", "sweep", str(spec_file)], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert not any("database is locked" in output for output in outputs)
    for name in ("left", "right"):
        runs = trial_runs(store_uri, name)
        assert len(runs) == 4 and (runs["status"] == "FINISHED").all()
        for run_id in runs["run_id"]:
            assert [s for s, _ in histories(store_uri, run_id)["val/top1"]] == [1, 2]
