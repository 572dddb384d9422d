"""Trial resources the machine cannot meet are refused before anything is written; fractional
GPUs that Ray was told about are packed, whatever is physically installed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from orchestrator.run import capacity
from orchestrator.cli import main
from orchestrator.errors import SpecError
from orchestrator.spec.resources import ResourcesSpec
from orchestrator.study import parse_spec
from orchestrator.run.sweep import run_sweep
from orchestrator.tracking.reader import read_trials

QUICKSTART = Path(__file__).parents[3] / "search_spaces" / "quickstart.yaml"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without GPUs")
def test_a_gpu_request_on_a_machine_without_gpus_exits_2_and_writes_nothing(isolated_cwd: Path) -> None:
    result = CliRunner().invoke(main, ["sweep", str(QUICKSTART), "resources.gpus_per_trial=0.5"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()  # stdout says what is starting; the refusal is one line
    assert len(lines) == 1 and "gpus_per_trial=0.5" in lines[0] and "resources.gpus_per_trial=0" in lines[0]
    assert not (isolated_cwd / "mlflow.db").exists() and not (isolated_cwd / "ray_results").exists()


@pytest.mark.parametrize("asked, message", [
    ({"cpus_per_trial": 4}, "cpus_per_trial=4 asks for 4 CPU per trial but this machine has 2; "
                            "run with resources.cpus_per_trial=2"),
    ({"gpus_per_trial": 0.25}, "gpus_per_trial=0.25 asks for 0.25 GPU per trial but this machine has 0; "
                               "run with resources.gpus_per_trial=0 (train on CPU)"),
    ({"gpus_per_trial": 2}, "run with resources.gpus_per_trial=1"),
])
def test_check_local_names_the_resource_what_the_machine_has_and_the_override(asked, message) -> None:
    nodes = [{"CPU": 2.0, "GPU": 1.0 if asked.get("gpus_per_trial") == 2 else 0.0}]
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        capacity.check_local(ResourcesSpec(**asked), nodes)


def test_a_trial_must_fit_on_one_node() -> None:
    nodes = [{"CPU": 8.0, "GPU": 0.0}, {"CPU": 1.0, "GPU": 1.0}]
    assert capacity.shortfall({"CPU": 2.0, "GPU": 1.0}, nodes) == ("CPU", 1.0)
    assert capacity.shortfall({"CPU": 1.0, "GPU": 1.0}, nodes) is None


def test_pending_trials_are_reported_every_interval_while_nothing_runs() -> None:
    class Pending:
        status = "PENDING"

    lines: list[str] = []
    now = [0.0]
    reporter = capacity.PendingReporter({"CPU": 4.0, "GPU": 0.5}, lines.append, interval=30.0,
                                        clock=lambda: now[0], available=lambda: {"CPU": 2.0})
    for now[0] in (0.0, 10.0, 31.0, 40.0, 62.0):
        reporter.on_step_begin(0, [Pending(), Pending()])
    assert lines == ["2 trials waiting for 4 CPU, 0.5 GPU each; the cluster has 2 CPU, 0 GPU free"] * 2


@pytest.fixture
def ray_with_a_declared_gpu():
    """Local Ray told it has one GPU on a machine that may have none (replaces the session's Ray)."""
    import ray

    ray.shutdown()
    ray.init(num_cpus=4, num_gpus=1, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.mark.slow  # its own Ray with a declared GPU, four trials long enough to overlap
def test_quarter_gpus_declared_to_ray_run_four_trials_at_once(ray_with_a_declared_gpu, store_uri, tmp_path) -> None:
    spec = parse_spec({
        "name": "packed",
        "data": {"dataset": "synthetic", "batch_size": 32,
                 "options": {"num_classes": 4, "train_size": 128, "val_size": 32, "image_size": 16}},
        "model": {"name": "resnet20"},
        # Trials long enough that the last worker's start-up (imports) ends before the first trial does.
        "train": {"epochs": 8, "device": "cpu", "optimizer": {"name": "sgd", "lr": 0.05}},
        "search": {"kind": "grid", "repeats": 4},
        "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0.25, "storage": str(tmp_path / "ray")},
        "tracking": {"uri": store_uri},
    })
    outcome = run_sweep(spec, echo=lambda line: None)
    assert outcome.tally.finished == 4
    runs = read_trials("packed", uri=store_uri, metrics=[])
    ends = [run.info.end_time for run in _runs(store_uri, runs["run_id"])]
    # Each run opens at its trial's first epoch and closes after its last: all four were open at once.
    assert runs["start_time"].max() < min(ends)


def _runs(store_uri: str, run_ids) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store_uri)
    return [client.get_run(run_id) for run_id in run_ids]
