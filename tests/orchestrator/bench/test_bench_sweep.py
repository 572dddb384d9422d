"""`orchestrate bench sweep` runs every side of the efficiency table and prints a row for each
(the numbers are not asserted: timings on shared machines are not reproducible); the side whose
trials do nothing has no efficiency."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from orchestrator.cli import main

SIDES = ["pure compute", "Ray Tune alone, trials doing nothing", "bare Ray Tune + MLflowLoggerCallback",
         "orchestrate sweep"]


@pytest.mark.slow  # three whole sweeps, each its own Ray: about a minute
def test_bench_sweep_prints_efficiency_startup_and_overhead_of_every_side() -> None:
    result = CliRunner().invoke(main, ["bench", "sweep", "--trials", "2", "--epochs", "1", "--train-size", "64"])
    assert result.exit_code == 0, result.output
    for side in SIDES:
        row = re.search(rf"^{re.escape(side)}\s+([\d.]+)\s+([\d.]+|-)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(\d+)$", result.output, re.M)
        assert row is not None, f"no row for {side}:\n{result.output}"
        wall, startup = float(row.group(1)), float(row.group(3))
        assert 0 <= startup < wall
        assert (row.group(2) == "-") == (side == "Ray Tune alone, trials doing nothing")
    assert re.search(r"orchestrate / bare Tune efficiency\s+[\d.]+x", result.output)


def test_the_floor_trials_worker_imports_what_a_sweep_worker_imports() -> None:
    """Ray sends a function of ``__main__`` (the sides run as one) by value and its worker imports
    nothing; the floor's trainable is sent by name, so its worker pays torch's and timm's imports
    as every sweep worker does."""
    import pickle
    import subprocess
    import sys

    from orchestrator.bench.floor import report_once

    assert pickle.loads(pickle.dumps(report_once)) is report_once  # importable by name
    probe = "import sys, orchestrator.bench.floor; print(all(m in sys.modules for m in ('torch', 'timm')))"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "True"


def test_a_bench_that_is_stopped_stops_the_command_it_runs(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A time limit (SIGTERM, made an exit by the bench) or Ctrl-C while a sweep runs: the sweep is
    told to stop too, instead of training on after the bench has gone."""
    import subprocess
    import sys

    from orchestrator.bench import process

    started: list[subprocess.Popen] = []

    def interrupted(self: subprocess.Popen, *args, **kwargs):
        started.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        process.run([sys.executable, "-c", "import time; time.sleep(120)"], tmp_path)
    assert started[0].poll() is not None  # ended, not left sleeping
