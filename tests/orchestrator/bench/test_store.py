"""`orchestrate bench store` builds a store, reads it both ways and runs the report commands on
it (the numbers are not asserted: timings on shared machines are not reproducible)."""

from __future__ import annotations

import re

import pytest

from click.testing import CliRunner

from orchestrator.cli import main

ROWS = ["read_trials by SQL", "read_trials via MlflowClient", "ratio", "sweep start (finished keys)",
        "orchestrate leaderboard", "orchestrate report"]


@pytest.mark.slow  # builds a store and runs leaderboard and report as commands
def test_bench_store_prints_every_read_and_that_both_paths_agree(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["bench", "store", "--runs", "7"])
    assert result.exit_code == 0, result.output
    assert "store of 7 finished trial runs" in result.output
    for row in ROWS:
        assert re.search(rf"^{re.escape(row)}\s*:\s*[\d.]+", result.output, re.M), f"no {row} row:\n{result.output}"
    assert "(same frame: yes)" in result.output
    assert list(tmp_path.iterdir()) == []  # its store and the store's artifacts went with its scratch folder
