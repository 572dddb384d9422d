"""A fused sweep whose driver was SIGKILLed resumes each member from its own checkpoint: the same
runs go on (none duplicated), every epoch is logged once, and training is not restarted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from recovery import (Driver, histories, kill_driver, last_logged_epoch, orchestrate, study, trial_runs, tune_results,
                      wait_for)


@pytest.mark.slow
def test_a_killed_fused_sweep_resumes_each_member_from_its_checkpoint(store_uri, tmp_path: Path) -> None:
    raw = study("fused_resume", store_uri, lrs=[0.05, 0.02], epochs=4, fused_trials=2, storage=str(tmp_path / "ray"))
    spec_file = tmp_path / "fused_resume.yaml"
    spec_file.write_text(yaml.safe_dump(raw))
    driver = Driver(str(spec_file))
    try:
        wait_for(lambda: last_logged_epoch(store_uri, "fused_resume") >= 2)
    finally:
        kill_driver(driver)
    before = trial_runs(store_uri, "fused_resume")
    assert sorted(before["status"]) == ["RUNNING", "RUNNING"]  # both members of the one fused trial

    resumed = orchestrate("sweep", str(spec_file), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = trial_runs(store_uri, "fused_resume")
    assert sorted(after["run_id"]) == sorted(before["run_id"]) and (after["status"] == "FINISHED").all()
    for run_id in after["run_id"]:
        assert [step for step, _ in histories(store_uri, run_id)["val/top1"]] == [1, 2, 3, 4]
    attempts = sorted(tune_results(tmp_path / "ray"), key=lambda results: results[0]["epoch"])
    assert len(attempts) == 2 and attempts[1][0]["epoch"] > 1  # the second attempt restored, not restarted
