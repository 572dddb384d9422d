"""Peak memory of a trial worker: ``orchestrate sweep`` on a study, its Ray trial workers
sampled with psutil, beside the same Trainer in a plain process (imports of the trainer only)."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import process

PLAIN = """
import resource, sys, torch
from orchestrator.train.config import TrialConfig
from orchestrator.designs import get_design
from orchestrator.study import load_spec
from orchestrator.train import Trainer
torch.set_num_threads(1)
spec = load_spec(sys.argv[1], sys.argv[2:])
plan = get_design(spec.search.kind).expand(spec)[0]
Trainer.from_config(TrialConfig.of_plan(plan.config), seed=plan.seed).fit()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@dataclass(frozen=True)
class MemoryBench:
    worker_mb: float  # the largest trial worker at its peak
    driver_mb: float  # the sweep driver at its peak
    plain_mb: float  # the same Trainer in a plain process, peak


def bench_memory(spec: str, overrides: list[str]) -> MemoryBench:
    """Run ``spec`` (with ``overrides``) as a sweep and in a plain process; peaks of each."""
    with tempfile.TemporaryDirectory() as scratch:
        sweep = process.run([sys.executable, "-m", "orchestrator.cli", "sweep", spec, *overrides], Path(scratch))
        plain = process.run([sys.executable, "-c", PLAIN, spec, *overrides], Path(scratch))
    return MemoryBench(sweep.worker_peak_mb, sweep.peak_mb, float(plain.stdout.split()[-1]))


def quickstart() -> str:
    return str(process.REPO / "search_spaces" / "quickstart.yaml")
