"""Peak memory of a trial worker: ``orchestrate sweep`` on a study, its Ray trial workers sampled
with psutil, beside the same Trainer in a plain process (imports of the trainer only).

RSS is sampled every ``INTERVAL`` seconds: a peak shorter than that can be missed, which for a
training loop whose memory plateaus after the first batches changes nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

import psutil

from .sweep import REPO, subprocess_env

INTERVAL = 0.2
MB = 2**20
PLAIN = """
import resource, sys, torch
from orchestrator.config import TrialConfig
from orchestrator.space import plan_sweep
from orchestrator.spec import load_spec
from orchestrator.train import Trainer
torch.set_num_threads(1)
plan = plan_sweep(load_spec(sys.argv[1], sys.argv[2:]))[0]
Trainer.from_config(TrialConfig.of_plan(plan.config), seed=plan.seed).fit()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@dataclass(frozen=True)
class MemoryBench:
    worker_mb: float  # the largest trial worker at its peak
    driver_mb: float  # the sweep driver at its peak
    plain_mb: float  # the same Trainer in a plain process, peak


def _is_trial_worker(process: psutil.Process) -> bool:
    """A Ray worker running a trial (idle workers are titled ``ray::IDLE``)."""
    try:
        title = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return title.startswith("ray::") and "IDLE" not in title


def _sample(root: psutil.Process, peaks: dict[str, float], done: threading.Event) -> None:
    while not done.is_set():
        try:
            peaks["driver"] = max(peaks["driver"], root.memory_info().rss / MB)
            for child in root.children(recursive=True):
                if _is_trial_worker(child):
                    peaks["worker"] = max(peaks["worker"], child.memory_info().rss / MB)
        except psutil.Error:  # a process ended between listing and reading it
            pass
        done.wait(INTERVAL)


def bench_memory(spec: str, overrides: list[str]) -> MemoryBench:
    """Run ``spec`` (with ``overrides``) as a sweep and in a plain process; peaks of each."""
    env = subprocess_env()
    with tempfile.TemporaryDirectory() as scratch:
        argv = [sys.executable, "-m", "orchestrator.cli", "sweep", spec, *overrides]
        sweep = subprocess.Popen(argv, cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peaks, done = {"driver": 0.0, "worker": 0.0}, threading.Event()
        sampler = threading.Thread(target=_sample, args=(psutil.Process(sweep.pid), peaks, done))
        sampler.start()
        _, errors = sweep.communicate()
        done.set()
        sampler.join()
        if sweep.returncode != 0:
            raise RuntimeError(f"orchestrate sweep exited {sweep.returncode}: {errors.strip()[-2000:]}")
        plain = subprocess.run([sys.executable, "-c", PLAIN, spec, *overrides], cwd=scratch, env=env,
                               capture_output=True, text=True, check=True)
    return MemoryBench(peaks["worker"], peaks["driver"], float(plain.stdout.split()[-1]))


def quickstart() -> str:
    return str(REPO / "search_spaces" / "quickstart.yaml")
