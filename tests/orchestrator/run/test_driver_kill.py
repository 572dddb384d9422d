"""The driver SIGKILLed mid-trial, then resumed: the default suite's short form of the slow
``test_interrupts.py`` test. The killed driver is the real command line, joined to this session's
Ray instead of starting its own (seconds saved twice); the resume runs in this process."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import yaml
from recovery import Driver, kill_driver, last_logged_epoch, study, trial_runs, tune_results, wait_for

from orchestrator.errors import ResumeError
from orchestrator.study import parse_spec
from orchestrator.run.prepare import prepare
from orchestrator.run.sweep import run_sweep
from orchestrator.tracking.names import RESUMED_FROM_KEY

EPOCHS = 4


def test_a_sigkilled_driver_is_resumed_from_the_epoch_after_its_last_logged_one(
        ray_local, store_uri, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = study("killed_driver", store_uri, lrs=[0.05], epochs=EPOCHS, storage=str(tmp_path / "ray"))
    spec_file = tmp_path / "killed_driver.yaml"
    spec_file.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("RAY_ADDRESS", ray_local.get_runtime_context().gcs_address)
    driver = Driver(str(spec_file))
    try:
        # The progress line of epoch 2 comes after epoch 1 was logged and checkpointed.
        wait_for(lambda: driver.count(f" epoch 2/{EPOCHS} ") >= 1 or driver.process.poll() is not None,
                 timeout=240)
    finally:
        kill_driver(driver)
    monkeypatch.delenv("RAY_ADDRESS")
    assert driver.count(f" epoch 2/{EPOCHS} ") >= 1, "\n".join(driver.lines)  # it ran until killed
    (run_id,) = trial_runs(store_uri, "killed_driver").query("status == 'RUNNING'")["run_id"]
    logged = last_logged_epoch(store_uri, "killed_driver")
    assert 1 <= logged < EPOCHS, "\n".join(driver.lines)  # precondition: killed mid-run

    spec = parse_spec(raw)
    with pytest.raises(ResumeError, match="--resume"):
        prepare(spec, resume=False)  # a plain re-run would start the run over
    outcome = run_sweep(spec, resume=True, echo=lambda line: None)

    after = trial_runs(store_uri, "killed_driver")
    assert after["run_id"].tolist() == [run_id] and after["status"].tolist() == ["FINISHED"]
    assert outcome.tally.finished == 1 and not outcome.tally.failed
    history = mlflow.MlflowClient(store_uri).get_metric_history(run_id, "val/top1")
    assert sorted(m.step for m in history) == list(range(1, EPOCHS + 1))  # each epoch once
    # Restored, not restarted: the resumed attempt began right after the last logged epoch,
    # from that epoch's checkpoint.
    (resumed,) = [results for results in tune_results(tmp_path / "ray") if results[0][RESUMED_FROM_KEY] > 0]
    assert [(r["epoch"], r[RESUMED_FROM_KEY]) for r in resumed] == [(e, logged) for e in range(logged + 1, EPOCHS + 1)]
