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
