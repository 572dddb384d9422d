"""A study holds one base recipe: a sweep of another is refused (exit 2, the differing keys
named), unless added on purpose, when its runs are labelled apart everywhere."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.errors import SpecError
from orchestrator.labels import recipe_suffix
from orchestrator.report.formats import display_leaderboard
from orchestrator.spec.plans import TrialPlan, label_for
from orchestrator.study import load_spec
from orchestrator.run.study_guard import check_base, relabel
from orchestrator.run.prepare import prepare
from orchestrator.tracking.store import redact_spec
from orchestrator.tracking.writer import StudyTracker


def record_quickstart(uri: str, *overrides: str) -> None:
    """The store of a study that ran quickstart.yaml: its parent run and spec.json, no Ray."""
    spec = load_spec("quickstart.yaml", [f"tracking.uri={uri}", *overrides])
    StudyTracker(spec.name, uri).start_sweep(redact_spec(spec.model_dump(mode="json")), trial_count=8)


def test_a_sweep_of_another_recipe_is_refused_with_exit_2_and_the_differing_keys(store_uri: str) -> None:
    record_quickstart(store_uri)
    result = CliRunner().invoke(main, ["sweep", "quickstart.yaml", "train.epochs=2", f"tracking.uri={store_uri}"])
    assert result.exit_code == 2, result.output
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("error: the base configuration differs from the one study 'quickstart' recorded")
    assert "train.epochs: 6 -> 2" in error and "new name" in error and "--add-to-study" in error


def test_the_refusal_is_the_commands_only_line_without_mlflows_download_bar(store_uri: str, tmp_path) -> None:
    """Reading the recorded spec.json downloads an artifact: MLflow draws a progress bar on
    stderr for it unless told not to, above the one line the refusal promises."""
    import os
    import subprocess
    import sys

    record_quickstart(store_uri)
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"}
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", "quickstart.yaml", "train.epochs=2",
                           f"tracking.uri={store_uri}"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith("error: the base"), done.stderr


def test_the_same_recipe_and_a_resume_are_not_refused(store_uri: str) -> None:
    record_quickstart(store_uri)
    spec = load_spec("quickstart.yaml", [f"tracking.uri={store_uri}"])
    assert prepare(spec, resume=False)[2] == {}  # a re-run of the same spec
    assert prepare(spec, resume=True)[2] == {}


def test_only_the_base_config_counts_and_the_flag_adds() -> None:
    recorded = {"train": {"epochs": 6}, "model": {"name": "resnet20"}, "search": {"repeats": 2}}
    assert check_base("s", recorded, recorded | {"search": {"repeats": 5}}, add_to_study=False) == {}
    assert check_base("s", None, recorded, add_to_study=False) == {}
    changed = recorded | {"train": {"epochs": 2}}
    with pytest.raises(SpecError, match="train.epochs: 6 -> 2"):
        check_base("s", recorded, changed, add_to_study=False)
    assert check_base("s", recorded, changed, add_to_study=True) == {"train.epochs": 2}


def test_added_runs_are_labelled_apart_in_plans_and_the_leaderboard() -> None:
    suffix = recipe_suffix({"train.epochs": 2, "train.optimizer.lr": 0.012345678})
    assert suffix == " [epochs=2,lr=0.01235]"
    plan = relabel(TrialPlan("abc", "baseline", {}, 0, {}), suffix)
    assert plan.label == "baseline [epochs=2,lr=0.01235]" and relabel(plan, suffix) == plan
    board = pd.DataFrame({
        "rank": [1, 2], "study": ["q", "q"], "config_key": ["a", "b"], "model": ["resnet20"] * 2,
        "factors": ['{"model.attention": null}'] * 2, "label": ["baseline", plan.label],
        "n_seeds": [2, 2], "n_pruned": [0, 0], "n_failed": [0, 0], "n_running": [0, 0],
        "top1_mean": [90.0, 80.0], "top1_std": [1.0, 1.0], "top1_ci_low": [80.0, 70.0],
        "top1_ci_high": [99.0, 89.0], "top1_ci_informative": [False] * 2, "top1_best_epoch_mean": [91.0, 81.0],
        "top5_mean": [99.0] * 2, "best_epoch": [5.0] * 2, "params_m": [0.27] * 2,
        "mmacs": [40.0] * 2, "train_hours": [0.01] * 2, "device": ["cpu"] * 2, "efficiency": [300.0] * 2,
    })
    shown = display_leaderboard(board)["factors"].tolist()
    assert shown == ["baseline: attention=null", "baseline: attention=null [epochs=2,lr=0.01235]"]


def test_labels_show_floats_to_four_significant_digits() -> None:
    factors = {"train.optimizer.lr": 0.07572375773085209, "train.optimizer.weight_decay": 0.0002693883019285409,
               "model.attention": "eca", "model.attention_kwargs.k_size": 3}
    assert label_for(factors) == 'lr=0.07572,weight_decay=0.0002694,attention="eca",k_size=3'
