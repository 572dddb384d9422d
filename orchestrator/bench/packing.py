"""K trainer processes on one device at once: what ``resources.gpus_per_trial: 1/K`` gives.

Ray packs fractional-GPU trials as separate processes sharing the GPU; here ``spawn`` processes
(CUDA cannot be forked) stand in for them. One pool of the largest K workers serves every job, as
Ray reuses trial workers, so process start-up is paid once. Each job: the K chosen workers build
their trainer and run the warm-up epoch, wait until all K are ready, then time their epochs
together; aggregate images/s is every image over the slowest worker's seconds.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from .workload import Setting, Timing, Workload, build_trainer, reset_peak, timed_epochs

REPLY_TIMEOUT_S = 900.0  # a live worker that says nothing this long is stuck
POLL_S = 1.0  # how often a silent wait checks that the workers still live


@dataclass(frozen=True)
class PackedRun:
    """K processes of one workload: aggregate throughput, each one's peak memory, failures."""

    k: int
    images_per_second: float
    peak_mib: list[float] = field(default_factory=list)  # per process; empty off CUDA
    errors: list[str] = field(default_factory=list)


def _worker(device: str, threads: int, jobs: Any, replies: Any, ident: int) -> None:
    """One trial process: per job, build and warm up, report ready, wait for go, time, report."""
    torch.set_num_threads(threads)
    target = torch.device(device)
    for job in iter(jobs.get, None):
        workload, setting = job
        try:
            reset_peak(target)
            trainer = build_trainer(workload, setting, target)
            replies.put((ident, "ready", None))
            jobs.get()  # go
            timing = timed_epochs(trainer, workload, target)
            del trainer
            replies.put((ident, "done", timing))
        except Exception as error:  # noqa: BLE001  (a failed process is a finding of the run)
            replies.put((ident, "error", f"{type(error).__name__}: {error}"[:300]))


class PackingPool:
    """``size`` spawned trainer processes on ``device``; use as a context manager."""

    def __init__(self, size: int, device: torch.device) -> None:
        context = mp.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // size)  # as Ray splits a node's CPUs between trials
        self.replies = context.Queue()
        self.jobs = [context.Queue() for _ in range(size)]
        self.processes = [context.Process(target=_worker, args=(str(device), threads, self.jobs[i], self.replies, i),
                                          daemon=True) for i in range(size)]

    def __enter__(self) -> PackingPool:
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        for jobs in self.jobs:
            jobs.put(None)
        # Stopped by an error or a signal, a worker may be mid-job for minutes: end it now.
        patience = 0.0 if exc_type is not None else 30.0
        for process in self.processes:
            process.join(timeout=patience)
            if process.is_alive():
                process.terminate()

    def _collect(self, waiting: set[int], kind: str) -> tuple[dict[int, Any], list[str]]:
        """Replies of ``kind`` from every worker in ``waiting``; errors, deaths and silence apart."""
        got: dict[int, Any] = {}
        errors: list[str] = []
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while waiting and time.monotonic() < deadline:
            try:
                ident, what, payload = self.replies.get(timeout=POLL_S)
            except queue.Empty:
                dead = {i for i in waiting if not self.processes[i].is_alive()}
                errors += [f"worker {i} exited with code {self.processes[i].exitcode}" for i in sorted(dead)]
                waiting -= dead
                continue
            waiting.discard(ident)
            if what == kind:
                got[ident] = payload
            else:
                errors.append(payload)
        return got, errors + [f"worker {i} stopped answering" for i in sorted(waiting)]

    def run(self, workload: Workload, setting: Setting, k: int) -> PackedRun:
        """Train ``workload`` in ``k`` workers at once and time them together."""
        for jobs in self.jobs[:k]:
            jobs.put((workload, setting))
        ready, errors = self._collect(set(range(k)), "ready")
        for ident in ready:
            self.jobs[ident].put("go")
        done, late = self._collect(set(ready), "done")
        timings: list[Timing] = list(done.values())
        seconds = max((t.seconds for t in timings), default=0.0)
        rate = sum(t.images for t in timings) / seconds if seconds else 0.0
        peaks = [t.peak_mib for t in timings if t.peak_mib is not None]
        return PackedRun(k, rate, peaks, errors + late)


def speedups(runs: list[PackedRun]) -> dict[int, float]:
    """Aggregate images/s over K = 1's, per K (0 where K = 1 failed)."""
    base = next((r.images_per_second for r in runs if r.k == 1), 0.0)
    return {r.k: r.images_per_second / base if base else 0.0 for r in runs}


def recommended_k(runs: list[PackedRun], *, within: float = 0.9) -> Optional[int]:
    """The smallest K within ``within`` of the best aggregate throughput: more processes cost
    memory and per-trial latency for the last few percent, so they are not worth it."""
    clean = [r for r in runs if not r.errors and r.images_per_second > 0]
    if not clean:
        return None
    best = max(r.images_per_second for r in clean)
    return min(r.k for r in clean if r.images_per_second >= within * best)
