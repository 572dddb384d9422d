"""`orchestrate bench memory` finds the sweep's trial workers and prints their peak beside a
plain process's (the numbers are not asserted beyond being measured)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli import main

TINY = {
    "name": "tiny_memory",
    "data": {"dataset": "synthetic", "batch_size": 32,
             "options": {"num_classes": 4, "train_size": 64, "val_size": 16, "image_size": 16}},
    "model": {"name": "resnet20"},
    "train": {"optimizer": {"name": "sgd", "lr": 0.05}},
    "search": {"kind": "grid", "repeats": 2},
}


@pytest.mark.slow  # a sweep and a plain training process: about 40 s on 2 cores
def test_bench_memory_measures_a_trial_worker_a_plain_process_and_the_driver(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(main, ["bench", "memory", "--epochs", "1", "--spec", str(spec)])
    assert result.exit_code == 0, result.output
    rows = {name: float(value) for name, value in
            re.findall(r"^(trial worker|same Trainer|sweep driver)[^:]*:\s*([\d.]+) MB", result.output, re.M)}
    assert set(rows) == {"trial worker", "same Trainer", "sweep driver"}, result.output
    assert all(value > 100 for value in rows.values())  # torch alone is several hundred MB
