"""resources.gpus_per_trial / gpu_sharing / fused_trials: auto accepted, bad values one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.errors import SpecError
from orchestrator.packing_spec import fused_stage_problem
from orchestrator.spec import SEARCH_SPACES_DIR, load_spec

ASHA = SEARCH_SPACES_DIR / "hpo" / "resnet56_cifar100_tpe_asha.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_auto_and_numbers_are_accepted(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "name: x\nresources: {gpus_per_trial: auto, fused_trials: auto}\n"))
    assert spec.resources.gpus_per_trial == "auto" and spec.resources.gpu_share == 1.0
    assert spec.resources.fused_trials == "auto" and spec.resources.gpu_sharing == "mps"
    spec = load_spec(write(tmp_path, "name: x\nresources: {gpus_per_trial: 0.25, fused_trials: 4, "
                                     "gpu_sharing: time_slice}\n"))
    assert spec.resources.gpu_share == 0.25 and spec.resources.fused_trials == 4


@pytest.mark.parametrize(("resources", "expected"), [
    ("{gpu_sharing: mpss}", "resources.gpu_sharing: Input should be 'mps' or 'time_slice'"),
    ("{gpus_per_trial: -1}", "resources.gpus_per_trial: Input should be greater than or equal to 0"),
    ("{gpus_per_trial: lots}", "resources.gpus_per_trial: expected a number >= 0 or auto, got 'lots'"),
    ("{fused_trials: 0}", "resources.fused_trials: Input should be greater than or equal to 1"),
    ("{fused_trials: 2.5}", "resources.fused_trials: expected an integer >= 1 or auto, got 2.5"),
])
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, resources: str, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, f"name: x\nresources: {resources}\n"))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_explicit_fusing_with_a_trial_scheduler_is_refused_and_auto_is_not() -> None:
    with pytest.raises(SpecError, match=r"^resources\.fused_trials: 4 trains trials in one process, but trial "
                                        r"scheduler asha"):
        load_spec(ASHA, ["resources.fused_trials=4"])
    assert load_spec(ASHA, ["resources.fused_trials=auto"]).resources.fused_trials == "auto"


def test_the_cli_exits_2_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = write(tmp_path, "name: x\nresources: {gpu_sharing: exclusive}\n")
    result = CliRunner().invoke(main, ["sweep", str(spec)])
    assert result.exit_code == 2 and "resources.gpu_sharing" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_a_stage_whose_members_differ_in_shape_cannot_fuse_explicitly() -> None:
    base = {"data": {"dataset": "synthetic", "batch_size": 32}, "model": {"name": "resnet20"},
            "train": {"optimizer": {"lr": 0.1}}}
    other_lr = {**base, "train": {"optimizer": {"lr": 0.01}, "seed": 3}}
    other_batch = {**base, "data": {"dataset": "synthetic", "batch_size": 64}}
    assert fused_stage_problem(4, [base, other_lr]) is None
    problem = fused_stage_problem(4, [base, other_batch])
    assert problem.startswith("resources.fused_trials: 4 cannot fuse this stage: trial 1 differs from trial 0 in "
                              "data.batch_size (64 vs 32)")
    assert fused_stage_problem("auto", [base, other_batch]) is None and fused_stage_problem(1, [base, other_batch]) is None


def test_the_dry_run_says_in_one_line_why_auto_runs_a_stage_unfused() -> None:
    from orchestrator.packing_spec import fused_stage_note

    base = {"data": {"dataset": "synthetic"}, "model": {"name": "resnet20"}}
    other = {**base, "model": {"name": "resnet32"}}
    assert fused_stage_note(1, None, [base, other]) == ""
    assert fused_stage_note("auto", "asha", [base, base]) == (
        "fused_trials auto: this stage runs unfused (trial scheduler asha handles trials one at a time)")
    assert fused_stage_note("auto", None, [base, other]).startswith(
        "fused_trials auto: this stage runs unfused (trial 1 differs from trial 0 in model.name")
    assert fused_stage_note("auto", None, [base, base]) == "fused_trials auto: K measured before the trials start"
    assert fused_stage_note(4, None, [base] * 8) == "fused_trials 4: 8 trials train up to 4 at a time in one process"
