"""`orchestrate bench gpu`: the quick run on a CPU prints all four sections, from a process where
Ray, MLflow and Optuna cannot be imported; the command prints tables or JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.bench import gpu
from orchestrator.bench.gpu import GpuBench, LoaderRow, PrecisionRow
from orchestrator.bench.gpu_cli import gpu_command
from orchestrator.bench.packing import PackedRun
from orchestrator.bench.policies import PolicyRow
from orchestrator.bench.projection import Projection, RowProjection
from orchestrator.bench.sharing import SharingRow, SharingSection

ROOT = Path(__file__).resolve().parents[3]
SECTIONS = ("1. trainer vs bare loop", "2. packing", "3. data path on the device", "4. seed 003 projection",
            "5. K trials on one device")
# A bare GPU machine: importing any of these must not be needed by the bench.
QUICK_WITHOUT_THE_SWEEP_STACK = """
import json, sys
for name in ("ray", "mlflow", "optuna"):
    sys.modules[name] = None  # any import of them now raises ImportError
from orchestrator.bench.gpu import run_gpu_bench
from orchestrator.bench.gpu_report import format_bench
bench = run_gpu_bench(device="cpu", quick=True)
print("\\n".join(format_bench(bench)))
print(json.dumps(bench.to_dict()))
"""


def test_quick_bench_runs_every_section_without_ray_mlflow_or_optuna() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", QUICK_WITHOUT_THE_SWEEP_STACK], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    *text, last = done.stdout.strip().splitlines()
    assert all(any(line.startswith(section) for line in text) for section in SECTIONS), text
    result = json.loads(last)
    assert {"device", "trainer_vs_bare", "packing", "data_path", "projection"} <= set(result)
    assert [row["setting"] for row in result["trainer_vs_bare"]] == ["fp32", "amp", "amp+channels_last"]
    assert all(row["error"] is None and row["trainer"] > 0 and row["ratio"] > 0 for row in result["trainer_vs_bare"])
    runs = result["packing"]["models"]["resnet20"]["runs"]
    assert [run["k"] for run in runs] == [1, 2] and all(run["images_per_second"] > 0 and not run["errors"] for run in runs)
    assert [row["augment"] for row in result["data_path"]] == ["standard", "randaugment"]
    policies = result["augment_policies"]
    assert [row["policy"] for row in policies] == ["randaugment", "autoaugment"]
    assert all(row["batched"] > 0 and row["per_image"] > 0 and row["ratio"] > 0 for row in policies)
    projection = result["projection"]
    assert len(projection["rows"]) == 3 and not projection["failed"] and projection["gpu_hours"] > 0
    assert {"epoch_seconds", "gpu_hours", "k", "batch_size", "input_size"} <= set(projection["rows"][0])
    sharing = result["sharing"]["rows"][0]
    assert [run["k"] for run in sharing["fused"]] == [1, 2] and sharing["mps"] == []  # no MPS on a CPU
    assert all(run["images_per_second"] > 0 and not run["errors"] for run in sharing["fused"] + sharing["plain"])
    assert sharing["auto_gpus_k"] == 1 and sharing["auto_fused_k"] in (1, 2)


def canned() -> GpuBench:
    return GpuBench(
        "cuda", "NVIDIA H100", quick=False,
        precision=[PrecisionRow("fp32", "float32", 20_000.0, 25_000.0, 900.0),
                   PrecisionRow("amp+compile", "bfloat16", error="BackendCompilerFailed: boom")],
        small_batch=[PrecisionRow("amp+channels_last+graphs", "bfloat16", 30_000.0, 12_000.0)],
        packing_setting="fp32",
        packing={"resnet20": [PackedRun(1, 20_000.0, [900.0]), PackedRun(2, 36_000.0, [900.0, 910.0])]},
        loader=[LoaderRow("standard", 400_000.0, 20.0)],
        policies=[PolicyRow("randaugment", 90_000.0, 3_000.0)],
        projection=Projection([RowProjection("resnet_20", "resnet20", 32, 1024, 20_000.0, 900.0, 2, 1.8)],
                              {"mlp_mixer_b16": "DeviceMemoryError: out of memory"}),
        sharing=SharingSection([SharingRow(
            "resnet20 b128", plain=[PackedRun(1, 14_000.0), PackedRun(8, 13_000.0)],
            mps=[PackedRun(1, 14_000.0), PackedRun(8, 92_400.0)],
            fused=[PackedRun(1, 13_000.0), PackedRun(8, 0.0, errors=["DeviceMemoryError: out of memory"])],
            auto_gpus_k=8, auto_fused_k=1)], mps_note="trials share each GPU under an MPS daemon started in /x"),
        seconds=300.0)


@pytest.fixture
def fake_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "run_gpu_bench", lambda device, quick, on_section: canned())


def test_command_prints_the_four_tables_with_ratios_and_errors(fake_bench) -> None:
    result = CliRunner().invoke(gpu_command, ["--device", "cpu"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(any(line.startswith(section) for line in lines) for section in SECTIONS)
    assert any("fp32" in line and "0.80" in line for line in lines)  # 20,000 / 25,000
    assert any("error: BackendCompilerFailed: boom" in line for line in lines)
    assert any("recommended K: 2" in line for line in lines)
    assert any(line.split() == ["randaugment", "90,000", "3,000", "30.0"] for line in lines)
    assert any(line.split() == ["amp+channels_last+graphs,", "batch", "128", "30,000", "12,000", "2.50"]
               for line in lines)
    assert any("mlp_mixer_b16" in line and "out of memory" in line for line in lines)
    assert any("measured rows only" in line for line in lines)  # a failed row: no whole-table claim
    assert any("resnet20 b128" in line and "13,000 (0.93)" in line and "92,400 (6.60)" in line and "error" in line
               for line in lines)
    assert any("auto would choose: gpus_per_trial 1/8, fused_trials 1" in line for line in lines)


def test_command_json_is_one_object_with_a_key_per_section(fake_bench) -> None:
    result = CliRunner().invoke(gpu_command, ["--device", "cpu", "--json"])
    data = json.loads(result.output)
    assert data["trainer_vs_bare"][0]["ratio"] == pytest.approx(0.8)
    assert data["packing"]["models"]["resnet20"]["runs"][1]["speedup"] == pytest.approx(1.8)
    assert data["projection"]["complete"] is False and data["data_path"][0]["headroom"] == 20.0


@pytest.mark.parametrize(("args", "message"), [
    (["--device", "cuda"], "error: --device cuda: no CUDA device here; allowed: cpu"),
    (["--save", "missing/bench.json"], "error: --save missing/bench.json: no folder "),
])
def test_bad_flags_are_one_line_and_exit_2_before_anything_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                  args: list[str], message: str) -> None:
    def never(device, quick, on_section):
        raise AssertionError("the bench ran")

    monkeypatch.setattr(gpu, "run_gpu_bench", never)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(gpu_command, ["--quick", *args])
    assert result.exit_code == 2 and result.output.startswith(message), result.output
    assert len(result.output.splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_save_keeps_each_measured_section_when_the_run_is_cut_short(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    def cut_after_the_first_section(device, quick, on_section):
        whole = canned()
        on_section("trainer vs bare loop", GpuBench(whole.device, whole.device_name, False, precision=whole.precision))
        raise KeyboardInterrupt  # the time limit, during the next section

    monkeypatch.setattr(gpu, "run_gpu_bench", cut_after_the_first_section)
    saved = tmp_path / "bench_gpu.json"
    result = CliRunner().invoke(gpu_command, ["--device", "cpu", "--save", str(saved)])
    assert result.exit_code != 0
    data = json.loads(saved.read_text())
    assert data["trainer_vs_bare"][0]["ratio"] == pytest.approx(0.8)
    assert data["projection"] is None and data["sharing"] is None
    assert [path.name for path in tmp_path.iterdir()] == ["bench_gpu.json"]


def test_a_time_limits_sigterm_ends_the_bench_and_its_packing_workers() -> None:
    """`timeout` sends SIGTERM: the bench unwinds (its packing workers ended, an MPS daemon it
    started stopped) instead of dying and leaving them on the GPU for whatever runs next."""
    import contextlib
    import signal
    import time

    import psutil

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    bench = subprocess.Popen([sys.executable, "-m", "orchestrator.bench.gpu_cli", "--device", "cpu", "--quick"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: list[psutil.Process] = []
    try:
        while "trainer vs bare loop: measured" not in bench.stderr.readline():  # the packing section starts now
            assert bench.poll() is None, "the bench ended before its packing section"
        deadline = time.monotonic() + 60
        while len(workers := psutil.Process(bench.pid).children(recursive=True)) < 2:
            assert time.monotonic() < deadline, "the packing workers never started"
            time.sleep(0.05)
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=120) == 128 + signal.SIGTERM
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == []
    finally:
        bench.kill()
        for worker in workers:  # left running only where the test failed
            with contextlib.suppress(psutil.Error):
                worker.kill()
