"""The driver stopped: SIGKILLed (a lost machine) or Ctrl-C, then ``--resume`` finishes the study
with the numbers an uninterrupted sweep gives. Each step runs the real command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import optuna
import pytest
import yaml
from recovery import (Driver, checkout_env, expand, histories, kill_driver, last_logged_epoch, orchestrate, study,
                      trial_runs, tune_results, uninterrupted, wait_for)

from orchestrator.designs.optuna.journal import journal_storage, optuna_storage_path
from orchestrator.designs.optuna.space import plan_from_suggestion
from orchestrator.study import parse_spec
from orchestrator.tracking.names import RESUMED_FROM_KEY

LR = "train.optimizer.lr"


def parent_statuses(store_uri: str, name: str) -> list[str]:
    mlflow.set_tracking_uri(store_uri)
    runs = mlflow.search_runs(experiment_names=[name])
    return runs.loc[runs["tags.orchestrate.kind"] == "sweep", "status"].tolist()


@pytest.mark.slow
def test_a_sigkilled_driver_resumes_to_the_numbers_of_an_uninterrupted_sweep(store_uri, tmp_path: Path) -> None:
    raw = study("chaos_driver", store_uri, lrs=[0.05, 0.02], max_concurrent=1, storage=str(tmp_path / "ray"))
    spec_file = tmp_path / "chaos_driver.yaml"
    spec_file.write_text(yaml.safe_dump(raw))
    driver = Driver(str(spec_file))
    try:
        # Kill the driver and every process it started (Ray's too) once the second trial is
        # mid-way: one run FINISHED, one RUNNING with some epochs logged.
        wait_for(lambda: len(trial_runs(store_uri, "chaos_driver")) == 2
                 and last_logged_epoch(store_uri, "chaos_driver") >= 1)
    finally:
        kill_driver(driver)
    before = trial_runs(store_uri, "chaos_driver")
    assert sorted(before["status"]) == ["FINISHED", "RUNNING"]
    logged = last_logged_epoch(store_uri, "chaos_driver")

    refused = orchestrate("sweep", str(spec_file))
    assert refused.returncode == 2 and "--resume" in refused.stderr
    changed = orchestrate("sweep", str(spec_file), "train.epochs=5", "--resume")
    assert changed.returncode == 2 and "train.epochs: 4 -> 5" in changed.stderr

    resumed = orchestrate("sweep", str(spec_file), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = trial_runs(store_uri, "chaos_driver")
    assert sorted(after["run_id"]) == sorted(before["run_id"])  # continued, not duplicated
    assert (after["status"] == "FINISHED").all()
    run_of = dict(zip(after["tags.orchestrate.run_key"], after["run_id"]))
    for plan in expand(parse_spec(raw)):
        assert histories(store_uri, run_of[plan.run_key]) == uninterrupted(plan)  # steps 1..4 once each
    assert parent_statuses(store_uri, "chaos_driver") == ["FINISHED"]
    # Restored, not restarted: training is deterministic and logged steps are not logged again,
    # so only the resumed attempt's own results tell a restart from epoch 1 apart.
    (resumed_attempt,) = [r for r in tune_results(tmp_path / "ray") if r[0][RESUMED_FROM_KEY] > 0]
    assert [(r["epoch"], r[RESUMED_FROM_KEY]) for r in resumed_attempt][0] == (logged + 1, logged)


def interrupt(driver: Driver) -> tuple[int, str]:
    """Ctrl-C as a terminal sends it: SIGINT to the driver's whole process group."""
    os.killpg(driver.process.pid, signal.SIGINT)
    return driver.finish()


def test_sigterm_stops_a_sweep_as_ctrl_c_does_and_says_how_to_resume(store_uri, tmp_path: Path) -> None:
    """``timeout``, ``docker stop`` or a scheduler's preemption send SIGTERM to the driver alone:
    its trials stop, their runs are marked KILLED as interrupted, and it says how to resume (Ray's
    own handler ended the sweep with exit 1, the code of a failed trial, and no word)."""
    spec_file = tmp_path / "chaos_sigterm.yaml"
    spec_file.write_text(yaml.safe_dump(study("chaos_sigterm", store_uri, lrs=[0.05], epochs=500,
                                              storage=str(tmp_path / "ray"))))
    driver = Driver(str(spec_file))
    wait_for(lambda: driver.count(" epoch 1/500 ") == 1)
    driver.process.terminate()
    code, output = driver.finish(timeout=120)
    assert code == 130, output
    assert f"interrupted: 1 runs marked KILLED; continue with: orchestrate sweep {spec_file} --resume" in output
    assert parent_statuses(store_uri, "chaos_sigterm") == ["KILLED"]
    runs = trial_runs(store_uri, "chaos_sigterm")
    assert runs["status"].tolist() == ["KILLED"] and runs["tags.orchestrate.outcome"].tolist() == ["interrupted"]


def test_sigterm_before_ray_starts_unwinds_as_ctrl_c_does(tmp_path: Path) -> None:
    """What a sweep starts before Ray (an MPS daemon, the workers measuring ``gpus_per_trial:
    auto``) is left behind by a SIGTERM's default, which ends the process at once."""
    stopped = ("import os, signal, time\n"
               "from orchestrator.run import sweep\n"
               "def run_sweep(spec, **kwargs):\n"
               "    os.kill(os.getpid(), signal.SIGTERM)\n"
               "    time.sleep(60)\n"
               "sweep.run_sweep = run_sweep\n"
               "from orchestrator.cli import main\n"
               "main(['sweep', 'quickstart.yaml'])\n")
    done = subprocess.run([sys.executable, "-c", stopped], cwd=tmp_path, env=checkout_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 130, done.stderr
    assert "interrupted: running trials stopped" in done.stderr


@pytest.mark.slow
def test_ctrl_c_stops_an_optuna_sweep_and_resume_finishes_it_with_uninterrupted_numbers(
        store_uri, tmp_path: Path) -> None:
    raw = {**study("chaos_ctrl_c", store_uri, lrs=[0.05], epochs=3, max_concurrent=1, storage=str(tmp_path / "ray")),
           "search": {"kind": "optuna", "sampler": "random", "num_samples": 3,
                      "space": {LR: {"loguniform": [1e-3, 0.1]}}}}
    spec_file = tmp_path / "chaos_ctrl_c.yaml"
    spec_file.write_text(yaml.safe_dump(raw))

    # Ctrl-C as the first trial starts: no epoch may have been logged yet.
    first = Driver(str(spec_file))
    wait_for(lambda: first.count("started ") == 1)
    code, output = interrupt(first)
    assert code == 130, output
    assert f"continue with: orchestrate sweep {spec_file} --resume" in output
    assert parent_statuses(store_uri, "chaos_ctrl_c") == ["KILLED"]
    assert set(trial_runs(store_uri, "chaos_ctrl_c")["status"]) <= {"KILLED"}

    # Ctrl-C again while the second trial is mid-way: its run is KILLED as interrupted.
    already = len(trial_runs(store_uri, "chaos_ctrl_c"))  # a run the first Ctrl-C caught mid-epoch
    second = Driver(str(spec_file), "--resume")
    wait_for(lambda: second.count(" epoch 1/3 ") >= 2 - already)
    code, output = interrupt(second)
    assert code == 130, output
    runs = trial_runs(store_uri, "chaos_ctrl_c")
    open_runs = runs[runs["status"] != "FINISHED"]
    assert len(open_runs) == 1 and open_runs["status"].tolist() == ["KILLED"]
    assert open_runs["tags.orchestrate.outcome"].tolist() == ["interrupted"]
    assert "runs marked KILLED; continue with:" in output

    # --resume asks the interrupted proposal again (same run, continued) and proposes only the rest.
    third = Driver(str(spec_file), "--resume")
    code, output = third.finish()
    assert code == 0, output
    runs = trial_runs(store_uri, "chaos_ctrl_c")
    assert len(runs) == 3 and (runs["status"] == "FINISHED").all()
    assert open_runs["run_id"].iloc[0] in set(runs["run_id"])
    spec = parse_spec(raw)
    for _, run in runs.iterrows():
        plan = plan_from_suggestion(spec, {LR: float(run[f"params.{LR}"])})
        assert histories(store_uri, run["run_id"]) == uninterrupted(plan)
    storage = journal_storage(optuna_storage_path(spec.tracking.uri, "chaos_ctrl_c"))
    trials = optuna.load_study(study_name="chaos_ctrl_c", storage=storage).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3
    assert sorted(t.params[LR] for t in complete) == sorted(runs[f"params.{LR}"].astype(float))
    assert parent_statuses(store_uri, "chaos_ctrl_c") == ["FINISHED"]
