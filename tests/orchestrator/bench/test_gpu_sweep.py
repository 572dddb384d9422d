"""`orchestrate bench gpu-sweep`: the same study through `orchestrate sweep` one trial per device,
K packed (under MPS on CUDA) and K fused, read back from each arrangement's own store. The
timings are not asserted (shared machines); what each arrangement asks for and what is counted are."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from orchestrator.bench.gpu_sweep import (ONE_PER_DEVICE, STUDY, Arranged, arrangements, format_row,
                                          read_outcome, study)
from orchestrator.cli import main
from orchestrator.designs import get_design
from orchestrator.spec.fused import fused_size
from orchestrator.study import parse_spec
from orchestrator.tracking.names import GPU_SHARING_TAG
from orchestrator.tracking.writer import StudyTracker


def parsed(device: str, resources: dict, folder: Path):
    spec = parse_spec(study(16, 2, device=device, batch_size=128, train_size=50_000, resources=resources,
                            folder=folder))
    return spec, get_design(spec.search.kind).expand(spec)


def test_on_cuda_the_study_runs_one_per_gpu_packed_under_mps_or_time_sliced_and_fused(tmp_path: Path) -> None:
    asked = {one.name: one.resources for one in arrangements("cuda", 8, cpus=16, also=("time-slice", "auto"))}
    assert list(asked) == [ONE_PER_DEVICE, "packed 1/8, MPS", "packed 1/8, time-sliced", "gpus_per_trial auto",
                           "fused 8"]
    for name, resources in asked.items():
        spec, plans = parsed("cuda", resources, tmp_path)
        assert len(plans) == 16 and spec.data.batch_size == 128 and spec.train.device == "cuda"
        assert len({plan.config["train"]["optimizer"]["lr"] for plan in plans}) == 4  # members differ
        k, _ = fused_size(spec, plans)
        assert (spec.resources.gpus_per_trial, spec.resources.gpu_sharing, k) == {
            ONE_PER_DEVICE: (1.0, "mps", 1), "packed 1/8, MPS": (0.125, "mps", 1),
            "packed 1/8, time-sliced": (0.125, "time_slice", 1), "gpus_per_trial auto": ("auto", "mps", 1),
            "fused 8": (1.0, "mps", 8)}[name]
    assert [one.name for one in arrangements("cuda", 8, cpus=16)] == [ONE_PER_DEVICE, "packed 1/8, MPS", "fused 8"]


def test_on_a_cpu_the_device_is_the_machines_cores(tmp_path: Path) -> None:
    asked = {one.name: one.resources for one in arrangements("cpu", 4, cpus=8, also=("time-slice", "auto"))}
    assert list(asked) == [ONE_PER_DEVICE, "packed 1/4", "fused 4"]  # no GPU to time-slice or measure
    cores = {name: parsed("cpu", resources, tmp_path)[0].resources.cpus_per_trial for name, resources in asked.items()}
    assert cores == {ONE_PER_DEVICE: 8, "packed 1/4": 2, "fused 4": 8}


def test_the_outcome_counts_the_stores_trial_runs_their_span_and_the_sharing_recorded(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = StudyTracker(STUDY, uri)
    tracker.start_sweep({"search": {"kind": "grid", "repeats": 1, "metric": "val/top1", "mode": "max"}},
                        trial_count=3, extra_tags={GPU_SHARING_TAG: "mps_started"})
    start = time.time() - 60
    for seed, status in enumerate(["FINISHED", "FAILED", "FINISHED"]):
        run = tracker.start_trial({"config_key": "c", "label": "c", "factors": {}, "seed": seed,
                                   "config": {"model": {"name": "resnet20"}}}, started=start + 10 * seed)
        tracker.client.set_terminated(run, status=status, end_time=int((start + 10 * seed + 5) * 1000))
    outcome = read_outcome("packed 1/8, MPS", 90.0, uri)
    assert (outcome.finished, outcome.failed, outcome.sharing) == (2, 1, "mps_started")
    assert outcome.trials_phase == pytest.approx(25.0, abs=0.01)
    assert outcome.per_hour == pytest.approx(80.0) and outcome.phase_per_hour == pytest.approx(288.0)


def test_each_row_is_its_trials_per_hour_against_one_trial_per_device() -> None:
    unit = Arranged(ONE_PER_DEVICE, wall=400.0, trials_phase=360.0, finished=16, sharing="not_shared")
    packed = Arranged("packed 1/8, MPS", wall=100.0, trials_phase=60.0, finished=16, sharing="mps_started")
    row = format_row(packed, unit).split()
    assert row[3:] == ["100.0", "16", "0", "576", "4.00", "60.0", "960", "6.00", "mps_started"]
    failed = format_row(Arranged("fused 8", error="exited 1: CUDA out of memory"), unit)
    assert failed.split()[2:] == ["error:", "exited", "1:", "CUDA", "out", "of", "memory"]


@pytest.mark.parametrize("arguments, says", [
    (["--trials", "6"], "--trials 6: allowed: a multiple of 4"),
    (["--k", "1"], "'--k': 1 is not in the range x>=2"),
    pytest.param(["--device", "cuda"], "--device cuda: no CUDA device here; allowed: cpu",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CPU machine's refusal")),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path: Path, arguments: list[str], says: str) -> None:
    folder = tmp_path / "kept"
    result = CliRunner().invoke(main, ["bench", "gpu-sweep", "--folder", str(folder), *arguments])
    assert result.exit_code == 2 and says in result.output
    assert not folder.exists()


def test_a_folder_holding_files_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "mlflow.db").write_text("")
    result = CliRunner().invoke(main, ["bench", "gpu-sweep", "--folder", str(tmp_path)])
    assert result.exit_code == 2 and f"--folder {tmp_path} is not empty" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["mlflow.db"]


@pytest.mark.slow  # three whole sweeps, each its own Ray: about a minute
def test_bench_gpu_sweep_runs_each_arrangement_through_the_sweep_on_a_cpu(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "gpu-sweep", "--device", "cpu", "--trials", "4", "--k", "2",
                                       "--epochs", "1", "--train-size", "128", "--batch-size", "32",
                                       "--folder", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in [ONE_PER_DEVICE, "packed 1/2", "fused 2"]:
        row = re.search(rf"^{re.escape(name)}\s+([\d.]+)\s+(\d+)\s+(\d+)\s+\d+\s+([\d.]+)\s", result.output, re.M)
        assert row is not None, f"no row for {name}:\n{result.output}"
        assert (row.group(2), row.group(3)) == ("4", "0")
    assert (tmp_path / "2" / "sweep.log").read_text().count("fused trials: up to 2 plans") == 1
