"""The Ray Tune trainable: a trial config -> the shared Trainer; report and checkpoint each epoch.

Nothing here talks to MLflow: metrics travel to the driver in ``tune.report`` and are logged
there, so one process writes the store however many trials run.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import ray
import torch
from ray import tune

from . import storage
from .config import TrialConfig
from .space import TrialPlan, plan_from_suggestion
from .spec import SweepSpec
from .train import Trainer
from .train.system import system_metrics

CHECKPOINT_FILE = "trainer.pt"
REPORT_FOLDER = "report"  # inside the last checkpoint: the final report's files
PLAN_KEY = "plan"
NODE_KEY = "node_id"  # reported with every epoch: which Ray node trained it (its IP is Tune's node_ip)
MEMBER_KEY = "run_key"  # in a checkpoint: the run that saved it
COPIED_FROM_KEY = "pbt/copied_from"  # reported once after a PBT exploit: the run whose weights were taken


def stopped_by_scheduler(result: dict[str, Any]) -> bool:
    """Whether a trial's last report is short of its epochs for a reason other than the
    recipe's early stopping: a Tune scheduler (ASHA, HyperBand, median) stopped it."""
    if "epoch" not in result or result.get("stopped_early"):
        return False
    return int(result["epoch"]) < result.get("total_epochs", float("inf"))


def plan_for(spec: SweepSpec, config: dict[str, Any]) -> TrialPlan:
    """The plan of a Tune trial: given whole by a grid, or built from an Optuna suggestion."""
    if PLAN_KEY in config:
        return TrialPlan.from_dict(config[PLAN_KEY])
    return plan_from_suggestion(spec, config)


def trial_dirname(plan: TrialPlan) -> str:
    """A trial's folder is named by its run key, so any later sweep can find its checkpoints."""
    return plan.run_key


def latest_checkpoint(checkpoint_root: str, run_key: str) -> Optional[str]:
    """The newest checkpoint any earlier sweep of the study saved for ``run_key``.

    Layout: ``<root>/<sweep>/<stage>/<run key>/checkpoint_<n>/trainer.pt`` (Tune's, with our
    folder names); the root is a local folder or an object-store URI. Tune restores a retried
    trial itself; this finds the checkpoint of a trial whose driver died, which a resumed sweep
    starts as a new Tune trial.
    """
    return storage.latest_file(checkpoint_root, f"*/*/{run_key}/checkpoint_*/{CHECKPOINT_FILE}")


def _restore(trainer: Trainer, checkpoint_root: str, resumed_key: Optional[str]) -> Optional[str]:
    """Load Tune's checkpoint of a retried (or PBT-exploiting) trial, else the newest one of a
    resumed run; returns the run key of the run that saved it (None when nothing was loaded)."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=False)
    else:
        path = latest_checkpoint(checkpoint_root, resumed_key) if resumed_key else None
        if path is None:
            return None
        with storage.open_file(path) as stream:
            state = torch.load(stream, weights_only=False)
    trainer.load_state_dict(state)
    return state.get(MEMBER_KEY, resumed_key)


def run_trial(config: dict[str, Any], *, spec: SweepSpec, checkpoint_root: str,
              resume_keys: list[str] = (), deadline: Optional[float] = None) -> None:
    """Train one (configuration, seed), continuing from its newest checkpoint if it has one.

    Only the runs a ``--resume`` continues (``resume_keys``) look for earlier sweeps'
    checkpoints; any other trial starts from scratch, whatever lies in the storage.

    A run restoring its own checkpoint goes on with the LR and weight decay it trained with. A
    PBT member that takes another member's checkpoint is brought to its own config's values,
    which PBT has just mutated.

    A trial that starts after the sweep's ``deadline`` returns at once without reporting, so the
    time budget stops launching work while running trials end cleanly.

    ``spec`` arrives validated (through Ray's object store, once per sweep stage) and so does a
    grid's plan: neither is validated again here.
    """
    if deadline is not None and time.time() >= deadline and tune.get_checkpoint() is None:
        return
    plan = plan_for(spec, config)
    threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the trial's CPU share
    trainer = Trainer.from_config(TrialConfig.of_plan(plan.config), seed=plan.seed)
    saved_by = _restore(trainer, checkpoint_root, plan.run_key if plan.run_key in resume_keys else None)
    extra = {NODE_KEY: ray.get_runtime_context().get_node_id()}
    if saved_by is not None and saved_by != plan.run_key:
        optimizer = plan.config["train"]["optimizer"]
        trainer.retune(lr=optimizer["lr"], weight_decay=optimizer["weight_decay"])
        extra[COPIED_FROM_KEY] = saved_by
    if trainer.done:  # the driver died after the last checkpoint but before the run closed
        report_epoch(trainer, trainer.last_metrics | extra, run_key=plan.run_key, checkpoint=True)
        return
    every = spec.resources.checkpoint_every
    while not trainer.done:
        metrics = trainer.run_epoch() | extra | system_metrics(trainer.device)
        extra.pop(COPIED_FROM_KEY, None)
        report_epoch(trainer, metrics, run_key=plan.run_key, checkpoint=trainer.done or trainer.epoch % every == 0)


def report_epoch(trainer: Trainer, metrics: dict[str, Any], *, run_key: str, checkpoint: bool) -> None:
    """Send one epoch to Tune. The last one carries the final report (per-class accuracy,
    confusion matrix, MACs) in its checkpoint folder, for the driver to log as artifacts."""
    outcome = {"total_epochs": trainer.total_epochs, "stopped_early": float(trainer.stopped_early),
               "device": trainer.device.type}
    if not checkpoint:
        tune.report({**metrics, **outcome})
        return
    with tempfile.TemporaryDirectory() as folder:
        torch.save(trainer.state_dict() | {MEMBER_KEY: run_key}, Path(folder) / CHECKPOINT_FILE)
        if trainer.done:
            final = trainer.final_report()
            final.write(Path(folder) / REPORT_FOLDER)
            outcome.update(final.summary())
        tune.report({**metrics, **outcome}, checkpoint=tune.Checkpoint.from_directory(folder))
