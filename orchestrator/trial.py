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

import torch
from ray import tune

from .space import TrialPlan, plan_from_suggestion
from .spec import SweepSpec
from .train import Trainer

CHECKPOINT_FILE = "trainer.pt"
PLAN_KEY = "plan"


def plan_for(spec: SweepSpec, config: dict[str, Any]) -> TrialPlan:
    """The plan of a Tune trial: given whole by a grid, or built from an Optuna suggestion."""
    if PLAN_KEY in config:
        return TrialPlan.from_dict(config[PLAN_KEY])
    return plan_from_suggestion(spec, config)


def run_trial(config: dict[str, Any], *, spec: dict[str, Any], deadline: Optional[float] = None) -> None:
    """Train one (configuration, seed), resuming from the trial's last checkpoint if it has one.

    A trial that starts after the sweep's ``deadline`` returns at once without reporting, so the
    time budget stops launching work while running trials end cleanly.
    """
    if deadline is not None and time.time() >= deadline and tune.get_checkpoint() is None:
        return
    plan = plan_for(SweepSpec.model_validate(spec), config)
    threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the trial's CPU share
    trainer = Trainer.from_config(plan.config, seed=plan.seed)
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=False)
        trainer.load_state_dict(state)
    while not trainer.done:
        metrics = trainer.run_epoch()
        with tempfile.TemporaryDirectory() as folder:
            torch.save(trainer.state_dict(), Path(folder) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
