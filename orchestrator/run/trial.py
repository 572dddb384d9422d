"""The Ray Tune trainable: a trial config -> the shared Trainer; report and checkpoint each epoch.

Nothing here talks to MLflow: metrics travel to the driver in ``tune.report`` and are logged
there, so one process writes the store however many trials run.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import math
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import psutil
import ray
import torch
from ray import tune

from .. import faults, storage
from . import checkpoint_retry
from ..data import DatasetTensors, load_dataset
from ..spec.plans import PLAN_KEY, TrialPlan
from ..tracking.names import (COPIED_FROM_KEY, CUDA_GRAPHS_KEY, DEVICE_KEY, FAILURE_KEY, NODE_KEY, RESUMED_FROM_KEY, STOPPED_EARLY_KEY,
                              TOTAL_EPOCHS_KEY, TRACEBACK_KEY, trained_out)
from ..train import Trainer
from ..train.config import TrialConfig
from ..train.graphs import graph_state
from ..train.system import system_metrics

CHECKPOINT_FILE = "trainer.pt"
REPORT_FOLDER = "report"  # inside the last checkpoint: the final report's files
MEMBER_KEY = "run_key"  # in a checkpoint: the run that saved it
TRIM_ABOVE = 256 * 2**20  # bytes a worker may hold above its last trim before it trims again


def stop_when_trained_out(trial_id: str, result: dict[str, Any]) -> bool:
    """Tune's stop rule for every sweep: a trial ends on its last report, before any scheduler
    is asked about it. HyperBand pauses a trial there to wait for its bracket; when the bracket
    finishes while that pause is still saving, nobody resumes or stops it and the sweep waits
    forever."""
    return trained_out(result)


@functools.lru_cache(maxsize=1)
def _decoded(key: str) -> DatasetTensors:
    name, root, download, options = json.loads(key)
    return load_dataset(name, root=root, download=download, **options)


def dataset_for(data: dict[str, Any]) -> DatasetTensors:
    """The decoded dataset of a trial's data section, kept by this worker process.

    Tune runs a finished trial's successor in the same worker (``reuse_workers``), so a study
    decodes (or generates) its dataset once per worker instead of once per trial; one dataset
    is kept at a time, so a worker moving on to another dataset does not grow."""
    return _decoded(json.dumps([data["dataset"], data["root"], data["download"], data["options"]],
                               sort_keys=True, default=str))


def resumable_state(checkpoint_root: str, run_key: str, *, logged: int) -> Optional[dict[str, Any]]:
    """The newest state any earlier sweep of the study saved for ``run_key`` at an epoch the
    run has logged (``logged``: its last logged epoch), or None.

    A driver stopped between a trial's checkpoint and the logging of that epoch leaves a
    checkpoint one epoch ahead of the log: continuing from it would leave that epoch out of
    the run's history for good, so the one before it is taken (Tune keeps the last two).

    Layout: ``<root>/<sweep>/<stage>/<run key>/checkpoint_<n>/trainer.pt`` (Tune's, with our
    folder names); the root is a local folder or an object-store URI. Tune restores a retried
    trial itself; this finds the checkpoint of a trial whose driver died, which a resumed sweep
    starts as a new Tune trial.
    """
    return newest_logged_state(checkpoint_root, f"*/*/{run_key}/checkpoint_*/{CHECKPOINT_FILE}", logged=logged)


def newest_logged_state(checkpoint_root: str, pattern: str, *, logged: int) -> Optional[dict[str, Any]]:
    """The newest trainer state under ``checkpoint_root`` matching ``pattern`` at an epoch up to
    ``logged`` (see :func:`resumable_state`), or None."""
    for path in storage.files_newest_first(checkpoint_root, pattern):
        with storage.open_file(path) as stream:
            state = torch.load(stream, weights_only=False)
        if state["epoch"] <= logged:
            return state
    return None


def _restore(trainer: Trainer, checkpoint_root: str, run_key: str, logged: Optional[int]) -> Optional[str]:
    """Load Tune's checkpoint of a retried (or PBT-exploiting) trial, else the newest logged one
    of a resumed run (``logged`` is not None); returns the run key of the run that saved it
    (None when nothing was loaded)."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=False)
    else:
        state = resumable_state(checkpoint_root, run_key, logged=logged) if logged is not None else None
        if state is None:
            return None
    trainer.load_state_dict(state)
    return state.get(MEMBER_KEY, run_key)


@dataclass
class WorkerMemory:
    """What this worker process did to its memory so far (one per process: ``WORKER``)."""

    frozen: bool = False  # what the imports made is frozen (``gc.get_freeze_count`` walks all of it)
    held_after_trim: Optional[int] = None  # resident bytes after the last trim


WORKER = WorkerMemory()


def release_freed_memory() -> None:
    """Give the heap back to the system when this (reused) worker holds much more than after the
    last time, and keep the collector off what the worker's imports made.

    glibc keeps what a trial freed (its batches, activations) in its heaps for the next one,
    which reuses it for nothing; returning it costs a full collection (to free the previous
    trial's reference cycles first), ``malloc_trim``'s pass over the heaps and the next trial's
    page faults: 0.05-0.08 s per trial of a small model, a sixth of its epoch. So the heap is
    trimmed only when the worker holds ``TRIM_ABOVE`` more than after its last trim: a worker
    never sits on a large trial's memory, and a run of small trials keeps the little it reuses.

    The first call freezes what the worker's imports made (half a million objects with torch,
    timm, pandas and Ray: each full collection, the interpreter's own included, would otherwise
    scan them all, 0.3 s, as much as a short trial trains)."""
    if not WORKER.frozen:
        gc.freeze()  # a fresh worker has freed nothing yet: nothing to collect before it
        WORKER.frozen = True
    if not sys.platform.startswith("linux"):
        return
    if WORKER.held_after_trim is not None and resident_bytes() < WORKER.held_after_trim + TRIM_ABOVE:
        return
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    WORKER.held_after_trim = resident_bytes()


def resident_bytes() -> int:
    """This process's resident memory."""
    return psutil.Process().memory_info().rss


def begin_trial(deadline: Optional[float]) -> bool:
    """False for a trial that starts after the sweep's ``deadline`` (not a restored one), which
    returns at once; else the worker is readied: the last trial's memory freed, the trial's
    CPU share as torch's threads (Ray sets OMP_NUM_THREADS to it)."""
    if deadline is not None and time.time() >= deadline and tune.get_checkpoint() is None:
        return False
    release_freed_memory()
    threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    return True


def run_trial(config: dict[str, Any], *, objectives: list[str], checkpoint_root: str, checkpoint_every: int = 1,
              resume_epochs: Optional[dict[str, int]] = None, deadline: Optional[float] = None,
              kill_after_epoch: Optional[int] = None, storage_patience: Optional[float] = None) -> None:
    """Train one (configuration, seed), continuing from its newest checkpoint if it has one.

    Only the runs a ``--resume`` continues (``resume_epochs``: run key -> last logged epoch)
    look for earlier sweeps' checkpoints; any other trial starts from scratch, whatever lies
    in the storage.

    An exception raised while building or training the configuration (a NaN loss, a bad
    option, CUDA out of memory) would be raised again by a retry from the same checkpoint, so
    the trial reports it before raising and the driver does not retry it: only a dead process
    or a lost node is worth a retry.

    A trial that starts after the sweep's ``deadline`` returns at once without reporting, so the
    time budget stops launching work while running trials end cleanly. ``kill_after_epoch`` is
    the test hook of :mod:`orchestrator.faults`; ``storage_patience`` how long a checkpoint
    waits for its storage (:mod:`orchestrator.run.checkpoint_retry`).

    The plan arrives validated (the driver made it, from a grid or an Optuna proposal) and is
    not validated again here; ``objectives`` are the study's metrics, reported as NaN with a
    failure before any epoch, ``checkpoint_every`` the epochs between checkpoints.
    """
    if not begin_trial(deadline):
        return
    plan = TrialPlan.from_dict(config[PLAN_KEY])
    reporter = EpochReporter(plan.run_key, objectives, storage_patience=storage_patience)
    try:
        _train(plan, reporter, checkpoint_root=checkpoint_root, checkpoint_every=checkpoint_every,
               logged=(resume_epochs or {}).get(plan.run_key), kill_after_epoch=kill_after_epoch)
    except Exception as exc:
        reporter.failure(exc)
        raise


def _train(plan: TrialPlan, reporter: EpochReporter, *, checkpoint_root: str, checkpoint_every: int,
           logged: Optional[int], kill_after_epoch: Optional[int]) -> None:
    """Build, restore and train, reporting every epoch.

    A run restoring its own checkpoint goes on with the LR and weight decay it trained with. A
    PBT member that takes another member's checkpoint is brought to its own config's values,
    which PBT has just mutated.
    """
    trainer = Trainer.from_config(TrialConfig.of_plan(plan.config), seed=plan.seed,
                                  dataset=dataset_for(plan.config["data"]))
    saved_by = _restore(trainer, checkpoint_root, plan.run_key, logged)
    extra = {NODE_KEY: ray.get_runtime_context().get_node_id(), RESUMED_FROM_KEY: trainer.epoch}
    if saved_by is not None and saved_by != plan.run_key:
        optimizer = plan.config["train"]["optimizer"]
        trainer.retune(lr=optimizer["lr"], weight_decay=optimizer["weight_decay"])
        extra[COPIED_FROM_KEY] = saved_by
    if trainer.done:  # the driver died after the last checkpoint but before the run closed
        reporter.epoch(trainer, trainer.last_metrics | extra, checkpoint=True)
        return
    while not trainer.done:
        metrics = trainer.run_epoch() | extra | system_metrics(trainer.device)
        extra.pop(COPIED_FROM_KEY, None)
        reporter.epoch(trainer, metrics, checkpoint=trainer.done or trainer.epoch % checkpoint_every == 0)
        faults.maybe_kill_worker(trainer.epoch, kill_after_epoch)


class EpochReporter:
    """Sends a trial's epochs to Tune, and its failure as a repeat of the last epoch it sent.

    Tune's schedulers and searcher read every result, so the failure report carries the epoch
    and objective they already saw (epoch 0 and NaN before the first): it changes no decision,
    it only tells the driver's callbacks, before the error arrives, not to retry the trial.
    """

    def __init__(self, run_key: str, objectives: list[str], *, storage_patience: Optional[float] = None) -> None:
        self.run_key = run_key
        self.storage_patience = storage_patience
        self.last: dict[str, Any] = {"epoch": 0, **{name: math.nan for name in objectives}}

    def epoch(self, trainer: Trainer, metrics: dict[str, Any], *, checkpoint: bool) -> None:
        """Send one epoch. The last one carries the final report (per-class accuracy,
        confusion matrix, MACs) in its checkpoint folder, for the driver to log as artifacts."""
        result = {**metrics, TOTAL_EPOCHS_KEY: trainer.total_epochs,
                  STOPPED_EARLY_KEY: float(trainer.stopped_early), DEVICE_KEY: trainer.device.type,
                  CUDA_GRAPHS_KEY: graph_state(trainer.graphed, trainer.graphs_reason)}
        if not checkpoint:
            self._send(result)
            return
        with tempfile.TemporaryDirectory() as folder:
            torch.save(trainer.state_dict() | {MEMBER_KEY: self.run_key}, Path(folder) / CHECKPOINT_FILE)
            if trainer.done:
                final = trainer.final_report()
                final.write(Path(folder) / REPORT_FOLDER)
                result.update(final.summary())
            checkpoint_retry.send_with_checkpoint(lambda checkpoint: self._send(result, checkpoint=checkpoint),
                                                  folder, patience_s=self.storage_patience)

    def failure(self, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        tune.report({**self.last, FAILURE_KEY: reason, TRACEBACK_KEY: traceback.format_exc()})

    def _send(self, result: dict[str, Any], checkpoint: Optional[tune.Checkpoint] = None) -> None:
        tune.report(result, checkpoint=checkpoint)
        self.last = result
