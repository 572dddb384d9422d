"""`orchestrate bench trials` times the same study with reused and with fresh trial workers
in one run (the numbers are not asserted: timings on shared machines are not reproducible)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from orchestrator.cli import main


@pytest.mark.slow  # two sweeps of real trials: about a minute on 2 cores
def test_bench_trials_prints_both_turnovers_and_their_ratio(ray_local, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["bench", "trials", "--trials", "2"])
    assert result.exit_code == 0, result.output
    seconds = [float(value) for value in re.findall(r"([\d.]+) s per trial", result.output)]
    ratio = float(re.search(r"ratio\s*:\s*([\d.]+)x", result.output).group(1))
    assert len(seconds) == 2 and all(value > 0 for value in seconds)
    assert ratio == pytest.approx(seconds[1] / seconds[0], rel=0.05)  # printed values are rounded
    assert list(tmp_path.iterdir()) == []  # its stores and their artifacts went with its scratch folder
