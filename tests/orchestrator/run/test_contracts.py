"""One contract for every Optuna sampler and every Tune scheduler: each (configuration, seed)
lands once in MLflow with its outcome, pruned is not failed, and the Optuna study agrees.

Each case is a real sweep (seconds to a minute on two shared cores), so the default run keeps
one sampler and one scheduler (HyperBand: it pauses and resumes trials); `pytest -m slow` runs
the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest
from ray.tune.schedulers import FIFOScheduler
from recovery import DATA, expand, histories, trial_runs, uninterrupted

from orchestrator.run import sweep as sweep_module
from orchestrator.designs.optuna.journal import journal_storage, optuna_storage_path
from orchestrator.study import parse_spec
from orchestrator.run.sweep import SweepOutcome, run_sweep
from orchestrator.tracking.names import RESUMED_FROM_KEY

LR, WD = "train.optimizer.lr", "train.optimizer.weight_decay"
SPACE = {LR: {"loguniform": [1e-3, 0.1]}, WD: {"loguniform": [1e-5, 1e-3]}}
slow = pytest.mark.slow


def contract_spec(store_uri: str, storage: Path, search: dict, epochs: int) -> dict:
    return {"name": "contract", "data": DATA, "model": {"name": "resnet20"},
            "train": {"epochs": epochs, "optimizer": {"name": "sgd", "lr": 0.05}}, "search": search,
            "tracking": {"uri": store_uri}, "resources": {"max_concurrent": 2, "storage": str(storage)}}


def check_runs(store_uri: str, trials: int) -> pd.DataFrame:
    """Every trial once, with an outcome its status agrees with."""
    runs = trial_runs(store_uri, "contract")
    assert len(runs) == trials and runs["tags.orchestrate.run_key"].is_unique
    expected = {"finished": "FINISHED", "pruned": "KILLED", "failed": "FAILED"}
    assert (runs["status"] == runs["tags.orchestrate.outcome"].map(expected)).all()
    failures = runs.get("tags.orchestrate.failure", pd.Series(None, index=runs.index, dtype=object))
    assert failures[runs["status"] == "KILLED"].isna().all()  # pruned, not failed
    return runs


def check_study(runs: pd.DataFrame, outcome: SweepOutcome) -> None:
    """The Optuna study holds the same trials as MLflow, in the same states."""
    journal = optuna_storage_path(outcome.tracking_uri, outcome.study)
    study = optuna.load_study(study_name="contract", storage=journal_storage(journal))
    state = {"FINISHED": "COMPLETE", "KILLED": "PRUNED", "FAILED": "FAIL"}
    assert sorted((t.params[LR], t.state.name) for t in study.trials) == sorted(
        zip(runs[f"params.{LR}"].astype(float), runs["status"].map(state)))


# tpe's contract also runs by default in test_search (with ASHA); here every sampler is slow-only.
@pytest.mark.parametrize("sampler", [pytest.param(s, marks=slow) for s in ("tpe", "random", "cmaes", "gp", "qmc", "nsga2")])
def test_every_sampler_records_each_trial_once_and_agrees_with_optuna(ray_local, store_uri, tmp_path, sampler) -> None:
    search = {"kind": "optuna", "sampler": sampler, "num_samples": 3, "space": SPACE}
    if sampler == "nsga2":
        search |= {"metric": ["val/top1", "model/params"], "mode": ["max", "min"]}
    outcome = run_sweep(parse_spec(contract_spec(store_uri, tmp_path / "ray", search, epochs=1)), echo=lambda line: None)
    runs = check_runs(store_uri, 3)
    assert (runs["status"] == "FINISHED").all() and outcome.tally.finished == 3
    check_study(runs, outcome)


@pytest.mark.parametrize("scheduler", ["hyperband", *(pytest.param(s, marks=slow) for s in ("asha", "median"))])
def test_every_scheduler_prunes_without_failing_and_agrees_with_optuna(ray_local, store_uri, tmp_path, scheduler) -> None:
    choice = {"name": scheduler, "reduction_factor": 2, "grace_period": 1, "min_samples_required": 2}
    choice = {k: v for k, v in choice.items() if k in {"asha": ("name", "reduction_factor", "grace_period"),
                                                        "hyperband": ("name", "reduction_factor"),
                                                        "median": ("name", "grace_period", "min_samples_required")}[scheduler]}
    search = {"kind": "optuna", "sampler": "random", "num_samples": 4, "space": SPACE, "scheduler": choice}
    outcome = run_sweep(parse_spec(contract_spec(store_uri, tmp_path / "ray", search, epochs=2)), echo=lambda line: None)
    runs = check_runs(store_uri, search["num_samples"])
    assert outcome.tally.finished + outcome.tally.pruned == len(runs) and not outcome.tally.failed
    assert outcome.tally.pruned == (runs["status"] == "KILLED").sum()
    check_study(runs, outcome)  # HyperBand ends paused trials without a result: they must not turn PRUNED


@slow
def test_pbt_records_each_member_once(ray_local, store_uri, tmp_path) -> None:
    search = {"kind": "grid", "factors": {LR: [0.002, 0.05]},
              "scheduler": {"name": "pbt", "perturbation_interval": 1,
                            "mutations": {LR: {"loguniform": [1e-4, 0.5]}}}}
    outcome = run_sweep(parse_spec(contract_spec(store_uri, tmp_path / "ray", search, epochs=2)), echo=lambda line: None)
    runs = check_runs(store_uri, 2)
    assert (runs["status"] == "FINISHED").all() and outcome.tally.finished == 2


class FinalReportWatcher(FIFOScheduler):
    """A scheduler that notes every epoch it is asked about: the sweep must never ask a
    scheduler about a trial's last epoch, where a pause (HyperBand's, waiting for its bracket)
    would leave a trial nobody resumes or stops, and the sweep waiting forever."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, int]] = []

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        self.asked.append((int(result["epoch"]), int(result["total_epochs"])))
        return super().on_trial_result(tune_controller, trial, result)


def test_a_trial_ends_on_its_last_epoch_before_any_scheduler_can_pause_it(ray_local, store_uri, tmp_path, monkeypatch) -> None:
    watcher = FinalReportWatcher()
    monkeypatch.setattr(sweep_module, "build_scheduler", lambda spec: watcher)
    search = {"kind": "grid", "factors": {LR: [0.002, 0.05]}}
    outcome = run_sweep(parse_spec(contract_spec(store_uri, tmp_path / "ray", search, epochs=2)), echo=lambda line: None)
    assert outcome.tally.finished == 2 and (check_runs(store_uri, 2)["status"] == "FINISHED").all()
    assert sorted(watcher.asked) == [(1, 2), (1, 2)]  # the first epochs, never the last


def test_hyperband_pauses_a_trial_and_resumes_it_from_its_checkpoint(ray_local, store_uri, tmp_path) -> None:
    # HyperBand (2 epochs, factor 2) puts trials 1-2 in a bracket that trains 2 epochs straight
    # and trials 3-4 in one that halves after epoch 1. All four exist from the start, so when
    # "paused" ends its first epoch, "slower" (a deeper model, started after it) has not, and
    # HyperBand pauses it. The objective, the configured LR, is deterministic and ranks "paused"
    # above "slower": it is resumed, and must continue from its epoch-1 checkpoint.
    variants = {"first": {LR: 0.01}, "second": {LR: 0.02}, "paused": {LR: 0.05},
                "slower": {LR: 0.001, "model.name": "resnet56"}}
    search = {"kind": "variants", "variants": variants, "metric": "opt/base_lr", "mode": "max",
              "scheduler": {"name": "hyperband", "reduction_factor": 2}}
    raw = contract_spec(store_uri, tmp_path / "ray", search, epochs=2)
    raw["resources"]["max_concurrent"] = 4
    outcome = run_sweep(parse_spec(raw), echo=lambda line: None)

    runs = check_runs(store_uri, 4).set_index("tags.orchestrate.label")
    assert runs["tags.orchestrate.outcome"].to_dict() == {"first": "finished", "second": "finished",
                                                           "paused": "finished", "slower": "pruned"}
    assert (outcome.tally.finished, outcome.tally.pruned) == (3, 1)
    plan = next(p for p in expand(parse_spec(raw)) if p.label == "paused")
    (results,) = (tmp_path / "ray").rglob(f"{plan.run_key}/result.json")
    reports = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["epoch"], r[RESUMED_FROM_KEY]) for r in reports] == [(1, 0), (2, 1)]  # restored, not restarted
    assert histories(store_uri, runs.loc["paused", "run_id"]) == uninterrupted(plan)
