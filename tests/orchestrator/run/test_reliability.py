"""Chaos and recovery: killed workers and drivers, resume, and concurrent writers on one store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from recovery import Driver, expand, histories, study, trial_runs, uninterrupted

from orchestrator.errors import ResumeError
from orchestrator.faults import FAULT_ENV
from orchestrator.study import parse_spec
from orchestrator.run.prepare import prepare
from orchestrator.run.sweep import run_sweep
from orchestrator.tracking import reader
from orchestrator.tracking.writer import StudyTracker
from orchestrator.tracking.names import RESUMED_FROM_KEY

def attempts(storage: Path) -> list[list[dict]]:
    """Each worker process's results, in order: Tune appends every attempt to result.json and
    adds the reporting process's pid to each result."""
    (path,) = storage.rglob("result.json")
    results = [json.loads(line) for line in path.read_text().splitlines()]
    pids = list(dict.fromkeys(result["pid"] for result in results))
    return [[result for result in results if result["pid"] == pid] for pid in pids]


@pytest.mark.parametrize(("checkpoint_every", "kill_after", "restored"),
                         [(1, 2, 2), pytest.param(2, 3, 2, marks=pytest.mark.slow)])
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
    assert histories(store_uri, runs["run_id"].iloc[0]) == uninterrupted(expand(parse_spec(raw))[0])  # no step twice


def test_a_trial_in_a_reused_worker_gives_the_metrics_of_the_same_run_alone(ray_local, store_uri, tmp_path: Path) -> None:
    # One worker at a time: the second and third trials run in the process the first trained
    # in (Tune's reuse_actors, which Ray leaves off because reused actors have leaked state).
    raw = study("reused", store_uri, lrs=[0.08, 0.05, 0.02], epochs=2, max_concurrent=1,
                storage=str(tmp_path / "ray"))
    run_sweep(parse_spec(raw), echo=lambda line: None)
    pids = {json.loads(line)["pid"] for path in (tmp_path / "ray").rglob("result.json")
            for line in path.read_text().splitlines()}
    assert len(pids) == 1
    runs = trial_runs(store_uri, "reused")
    run_of = dict(zip(runs["tags.orchestrate.run_key"], runs["run_id"]))
    # The references train in the opposite order in this process: a state one run leaves
    # behind (an RNG not reseeded, say) would then give different numbers on the two sides.
    for plan in reversed(expand(parse_spec(raw))):
        assert histories(store_uri, run_of[plan.run_key]) == uninterrupted(plan)


def test_resume_is_refused_for_a_study_that_never_ran(store_uri) -> None:
    spec = parse_spec(study("never", store_uri, lrs=[0.1]))
    with pytest.raises(ResumeError, match="has no sweep to resume"):
        prepare(spec, resume=True)  # no store yet
    StudyTracker("another", store_uri).client.create_experiment("another")
    with pytest.raises(ResumeError, match="has no sweep to resume"):
        prepare(spec, resume=True)  # a store without this study


def test_preparing_a_sweep_on_a_new_store_creates_nothing(store_uri, tmp_path: Path) -> None:
    # A new SQLite store is created while Ray starts (MLflow's migrations take seconds), so the
    # checks before it must not create it: nothing to resume or compare with is read from it.
    plans, resumable, changes = prepare(parse_spec(study("fresh", store_uri, lrs=[0.1, 0.2])), resume=False)
    assert len(plans) == 2 and resumable == {} and changes == {}
    assert not (tmp_path / "mlflow.db").exists()


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


def test_every_run_is_read_when_a_study_has_more_runs_than_a_page(store_uri, monkeypatch: pytest.MonkeyPatch) -> None:
    # Through the client, as a server store is read (SQLite's SQL path has no pages at all), and
    # with pages smaller than the study: each reader must ask for more than one.
    spec = parse_spec(study("paged", store_uri, lrs=[0.1, 0.09, 0.08, 0.07, 0.06]))
    tracker = StudyTracker("paged", store_uri)
    tracker.start_sweep(spec.model_dump(mode="json"), trial_count=5)
    plans = expand(spec)
    run_ids = [tracker.start_trial(plan.to_dict()) for plan in plans]
    for run_id in run_ids[:2]:
        tracker.finish_trial(run_id, status="FINISHED", summary={}, tags={})
    for run_id in run_ids[2:]:
        tracker.mark_interrupted(run_id)
    pages = _count_pages(monkeypatch)
    table = reader.read_trials("paged", uri=store_uri, metrics=[], page_size=2, sql=False)
    assert sorted(table["run_id"]) == sorted(run_ids) and len(pages) == 3
    pages.clear()
    unfinished = reader.unfinished_trials(tracker.client, "paged", page_size=2)
    assert {k: r.info.run_id for k, r in unfinished.items()} == {p.run_key: r for p, r in zip(plans[2:], run_ids[2:])}
    assert len(pages) == 2
    pages.clear()
    finished = reader.finished_run_keys(tracker.client, "paged", page_size=1, sql=False)
    assert finished == {plan.run_key for plan in plans[:2]} and len(pages) >= 2
    assert reader.finished_run_keys(tracker.client, "paged") == finished  # the SQL path agrees


def _count_pages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each page MlflowClient.search_runs returns from now on."""
    pages: list[int] = []
    search = MlflowClient.search_runs

    def counted(self, *args, **kwargs):
        page = search(self, *args, **kwargs)
        pages.append(len(page))
        return page

    monkeypatch.setattr(MlflowClient, "search_runs", counted)
    return pages


def test_two_sweeps_share_one_store_and_every_metric_of_every_step_lands(store_uri, tmp_path: Path) -> None:
    """Two drivers, each its own Ray and two trials at once, write one new SQLite store."""
    raws = {name: study(name, store_uri, lrs=lrs, epochs=2, cpus_per_trial=0.5, storage=str(tmp_path / name))
            for name, lrs in (("left", [0.05, 0.04]), ("right", [0.03, 0.02]))}
    drivers = []
    for name, raw in raws.items():
        spec_file = tmp_path / f"{name}.yaml"
        spec_file.write_text(yaml.safe_dump(raw))
        drivers.append(Driver(str(spec_file)))
    outputs = [driver.finish() for driver in drivers]
    assert [code for code, _ in outputs] == [0, 0], outputs
    assert not any("database is locked" in output for _, output in outputs)
    for name, raw in raws.items():
        runs = trial_runs(store_uri, name)
        assert len(runs) == 2 and (runs["status"] == "FINISHED").all()
        run_of = dict(zip(runs["tags.orchestrate.run_key"], runs["run_id"]))
        for plan in expand(parse_spec(raw)):
            assert histories(store_uri, run_of[plan.run_key]) == uninterrupted(plan)


def test_a_run_opened_while_the_store_is_read_page_by_page_leaves_no_run_read_twice(store_uri) -> None:
    """A trial's run opens at its first epoch, dated from the trial's start: it can sort before
    runs a reader already has and shift the later pages."""
    tracker = StudyTracker("shifted", store_uri)
    tracker.start_sweep({"search": {"kind": "grid", "repeats": 1, "metric": "val/top1", "mode": "max"}},
                        trial_count=4)
    start = time.time() - 100

    def open_run(seed: int, offset: float) -> str:
        return tracker.start_trial({"config_key": "c", "label": "c", "factors": {}, "seed": seed,
                                    "config": {"model": {"name": "resnet20"}}}, started=start + offset)

    before = [open_run(seed, 10 + seed) for seed in range(3)]
    runs = reader.trial_runs(tracker.client, tracker.experiment_id, page_size=2)
    read = [next(runs).info.run_id, next(runs).info.run_id]  # the first page
    open_run(3, 0)  # started before all of them, opened now
    read += [run.info.run_id for run in runs]
    assert sorted(set(read)) == sorted(read) and set(before) <= set(read)
