"""`orchestrate bench loader` measures both pipelines in one run (the numbers are not asserted)."""

from __future__ import annotations

import re

import pytest
import torch
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.data import load_dataset
from orchestrator.bench.loader import bench_loader


def test_bench_loader_prints_both_throughputs_and_their_ratio() -> None:
    threads = torch.get_num_threads()
    try:
        result = CliRunner().invoke(main, ["bench", "loader", "--batches", "2", "--batch-size", "16",
                                           "--workers", "0", "--device", "cpu", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)  # the command sets it for its whole process
    assert result.exit_code == 0, result.output
    rates = re.findall(r"([\d,]+) images/s", result.output)
    ratio = float(re.search(r"ratio\s*:\s*([\d.]+)x", result.output).group(1))
    assert len(rates) == 2 and ratio > 0 and "32 images per side on cpu, 1 threads" in result.output


def test_bench_needs_enough_images_and_a_supported_augmentation() -> None:
    data = load_dataset("synthetic", train_size=32, image_size=8)
    with pytest.raises(ValueError, match="need 48 training images"):
        bench_loader(data, batch_size=16, batches=2, workers=0)
    with pytest.raises(ValueError, match="bench supports augment"):
        bench_loader(data, batch_size=8, batches=2, workers=0, augment="cutout")
