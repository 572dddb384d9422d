"""Every bench's counts (trials, epochs, runs, batches, threads) are refused below 1 by the command
line, exit 2, before the bench runs: nothing measured, no Ray, no store in the working folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import main

# The function each subcommand hands its arguments to, replaced by one that records the call.
BENCHES = {
    "trials": "orchestrator.bench.trials.bench_trials",
    "sweep": "orchestrator.bench.sweep.bench_sweep",
    "store": "orchestrator.bench.store.bench_store",
    "memory": "orchestrator.bench.memory.bench_memory",
    "loader": "orchestrator.bench.loader.bench_loader",
}


@pytest.mark.parametrize("command, arguments", [
    ("trials", ["--trials", "0"]),  # ran a warm-up sweep (Ray, ./mlruns) before refusing
    ("trials", ["--cpus-per-trial", "0"]),
    ("sweep", ["--slots", "0"]),
    ("sweep", ["--epochs", "0"]),
    ("store", ["--runs", "0"]),  # built an empty store and timed its reads
    ("memory", ["--epochs", "0"]),  # exit 1, a sweep subprocess's refusal wrapped in a RuntimeError
    ("loader", ["--batches", "0"]),  # measured 0 images/s and a ratio of 0.0x
    ("loader", ["--threads", "-1"]),  # exit 1 from torch.set_num_threads
])
def test_a_count_below_one_exits_2_before_the_bench_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         command: str, arguments: list[str]) -> None:
    calls: list[object] = []
    monkeypatch.setattr(BENCHES[command], lambda *args, **kwargs: calls.append(args))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["bench", command, *arguments])
    assert result.exit_code == 2 and f"Invalid value for '{arguments[0]}'" in result.output, result.output
    assert not calls and not list(tmp_path.iterdir())


@pytest.mark.parametrize("spec, message", [
    ("missing.yaml", "error: missing.yaml: no such spec file"),
    ("bad.yaml", "error: model.name: unknown model 'resnet2000'"),
])
def test_bench_memory_refuses_a_missing_or_bad_spec_before_its_sweep_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, message: str) -> None:
    """Was exit 1: the sweep subprocess's refusal wrapped in a RuntimeError."""
    calls: list[object] = []
    monkeypatch.setattr(BENCHES["memory"], lambda *args, **kwargs: calls.append(args))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("name: x\nmodel: {name: resnet2000}\n")
    result = CliRunner().invoke(main, ["bench", "memory", "--spec", spec])
    assert result.exit_code == 2 and result.output.startswith(message), result.output
    assert not calls and [path.name for path in tmp_path.iterdir()] == ["bad.yaml"]
