"""``resources.fused_trials``: an explicit K > 1 that cannot hold is refused with one line and
exit 2 before anything is written; ``auto`` falls back to one plan per trial and says why."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.spec.fused import fused_groups, unmeasured
from tests.orchestrator.spec.test_plugin_options import refused

SAME_SHAPE = ("search.factors={train.optimizer.lr: [0.01, 0.05, 0.1]}",)


def dry_run(*overrides: str) -> str:
    result = CliRunner().invoke(main, ["sweep", "quickstart.yaml", "--dry-run", *overrides])
    assert result.exit_code == 0, result.output
    assert not Path("mlflow.db").exists() and not Path("ray_results").exists()
    return result.output


def test_an_explicit_k_on_plans_that_differ_in_shape_is_refused_with_fusables_reason() -> None:
    assert refused("resources.fused_trials=2").startswith(
        "error: resources.fused_trials: trial 3 differs from trial 1 in model.attention")


def test_an_explicit_k_with_a_trial_scheduler_is_refused() -> None:
    assert refused("resources.fused_trials=4", "search.scheduler.name=asha", *SAME_SHAPE).startswith(
        "error: resources.fused_trials: search.scheduler (asha) stops trials one by one")


def test_an_explicit_k_on_a_search_is_refused_not_run_unfused(tmp_path: Path) -> None:
    spec = tmp_path / "search.yaml"
    spec.write_text("name: lr_search\ndata: {dataset: digits}\nmodel: {name: resnet20}\n"
                    "search: {kind: optuna, sampler: tpe, num_samples: 4, "
                    "space: {train.optimizer.lr: {loguniform: [0.01, 0.1]}}}\n")
    result = CliRunner().invoke(main, ["sweep", str(spec), "--dry-run", "resources.fused_trials=4"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: resources.fused_trials: a search proposes its trials one at a time, "
                                     "so there is no group to fuse; allowed here: 1 or auto (got 4)")
    auto = CliRunner().invoke(main, ["sweep", str(spec), "--dry-run", "resources.fused_trials=auto"])
    assert auto.exit_code == 0 and "fused trials: 1 per trial (a search proposes its trials" in auto.output


def test_auto_runs_unfused_and_says_why_in_one_line() -> None:
    lines = [line for line in dry_run("resources.fused_trials=auto").splitlines() if line.startswith("fused trials")]
    assert len(lines) == 1 and "1 per trial (trial 3 differs" in lines[0]
    # Plans of one shape, but a trial scheduler stops them one by one: unfused, never measured.
    scheduled = dry_run("resources.fused_trials=auto", "search.scheduler.name=asha", *SAME_SHAPE)
    lines = [line for line in scheduled.splitlines() if line.startswith("fused trials")]
    assert lines == ["fused trials: 1 per trial (search.scheduler (asha) stops trials one by one; fused members "
                     "train in one trial)"]


def test_groups_hold_at_most_k_plans_in_order() -> None:
    assert fused_groups(list(range(5)), 2) == [[0, 1], [2, 3], [4]]  # type: ignore[arg-type]


class Measured:
    k = 4

    def table(self) -> list[str]:
        return ["the table", "fused_trials auto: 4 trials per fused trial"]


def test_auto_on_cuda_takes_the_measured_k_and_its_table() -> None:
    from orchestrator.designs import get_design
    from orchestrator.spec.fused import fused_size
    from orchestrator.study import parse_spec

    spec = parse_spec({"name": "lrs", "search": {"kind": "grid", "repeats": 2,
                                                 "factors": {"train.optimizer.lr": [0.01, 0.1]}},
                       "resources": {"fused_trials": "auto"}})
    plans = get_design(spec.search.kind).expand(spec)
    seen: list[list[dict]] = []
    size, line = fused_size(spec, plans, choose=lambda configs: seen.append(configs) or Measured())
    assert size == 4 and line.splitlines() == Measured().table()
    assert seen == [[plan.config for plan in plans]]  # every plan's config measured, nothing else
    no_cuda = unmeasured(spec, cuda=False, cluster=False)  # the spec gives its trials no GPU
    assert fused_size(spec, plans, unmeasured=no_cuda, choose=lambda configs: Measured()) == (
        1, "fused trials: auto chose 1 (the trials train on CPU: a fused model only pays on a GPU)")
    size, line = fused_size(spec, plans)  # a dry run: nothing measured yet
    assert size == 1 and "measured on the GPU before the trials start" in line


def test_auto_is_measured_only_for_trials_on_this_machines_gpu() -> None:
    """A cluster's trials run on its nodes' GPUs, which the driver cannot measure; trials given no
    GPU share (or told to train on CPU) train without CUDA however many GPUs this machine has."""
    from orchestrator.study import parse_spec

    def spec(**resources):
        return parse_spec({"name": "lrs", "resources": {"fused_trials": "auto", **resources}})

    assert unmeasured(spec(gpus_per_trial=0.5), cuda=True, cluster=False) == ""
    assert unmeasured(spec(gpus_per_trial="auto"), cuda=True, cluster=False) == ""
    assert "cluster's GPUs are not measured" in unmeasured(spec(gpus_per_trial=1), cuda=True, cluster=True)
    assert "trials train on CPU" in unmeasured(spec(gpus_per_trial=0), cuda=True, cluster=False)
    assert "trials train on CPU" in unmeasured(spec(gpus_per_trial=1), cuda=True, cluster=False, gpu_share=0.0)
    cpu_trials = parse_spec({"name": "lrs", "train": {"device": "cpu"}, "resources": {"fused_trials": "auto"}})
    assert "trials train on CPU" in unmeasured(cpu_trials, cuda=True, cluster=False)
    assert unmeasured(spec(gpus_per_trial=1), cuda=False, cluster=False) == "no CUDA here to measure a fused model on"


def test_an_explicit_k_with_cuda_graphs_on_is_refused_and_auto_runs_unfused() -> None:
    graphs_on = ("train.cuda_graphs=on", "train.device=cuda", "resources.gpus_per_trial=1", *SAME_SHAPE)
    assert refused("resources.fused_trials=2", *graphs_on).startswith(
        "error: resources.fused_trials: train.cuda_graphs: on captures one trial's step; fused members train "
        "in one step that is not captured; allowed here: 1 or auto (got 2)")
    assert "fused trials: 1 per trial (train.cuda_graphs: on captures" in dry_run("resources.fused_trials=auto",
                                                                                   *graphs_on)
