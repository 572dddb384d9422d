"""The Ray Tune trainable of a fused group: K plans of one shape train as one model in one
process (:class:`~orchestrator.train.fused.FusedTrainer`), each still its own run.

Every report carries each live member's epoch under ``MEMBERS_KEY`` (by run key), so the
driver's callbacks log each member into its own MLflow run; a member whose loss diverged is
reported once with its failure and the others go on. A checkpoint holds one folder per member
(``<run key>/trainer.pt``, and ``<run key>/report`` on the trial's last epoch).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Optional

import ray
import torch
from ray import tune

from .. import faults
from ..spec.plans import TrialPlan
from ..tracking.names import (CUDA_GRAPHS_KEY, DEVICE_KEY, FAILURE_KEY, MEMBERS_KEY, NODE_KEY, RESUMED_FROM_KEY,
                              STOPPED_EARLY_KEY, TOTAL_EPOCHS_KEY)
from ..train.config import TrialConfig
from ..train.fused import FUSED_GRAPHS, FusedTrainer
from ..train.system import system_metrics
from . import checkpoint_retry
from .plan_grid import FUSED_PLANS_KEY
from .trial import CHECKPOINT_FILE, REPORT_FOLDER, begin_trial, dataset_for, newest_logged_state

def _member_state(checkpoint_root: str, run_key: str, logged: Optional[int]) -> Optional[dict[str, Any]]:
    """The member's state in Tune's checkpoint of this (retried) trial, else the newest one an
    earlier sweep saved at an epoch its run has logged (only for a resumed run: ``logged``)."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            path = Path(folder) / run_key / CHECKPOINT_FILE
            return torch.load(path, weights_only=False) if path.is_file() else None
    if logged is None:
        return None
    return newest_logged_state(checkpoint_root, f"*/*/*/checkpoint_*/{run_key}/{CHECKPOINT_FILE}", logged=logged)


def run_fused_trial(config: dict[str, Any], *, objectives: list[str], checkpoint_root: str,
                    checkpoint_every: int = 1, resume_epochs: Optional[dict[str, int]] = None,
                    deadline: Optional[float] = None, kill_after_epoch: Optional[int] = None,
                    storage_patience: Optional[float] = None) -> None:
    """Train the group's plans fused until each has finished or failed (see the module's doc);
    the options are :func:`~orchestrator.run.trial.run_trial`'s."""
    if not begin_trial(deadline):
        return
    plans = [TrialPlan.from_dict(plan) for plan in config[FUSED_PLANS_KEY]]
    try:
        _train(plans, objectives, checkpoint_root=checkpoint_root, checkpoint_every=checkpoint_every,
               resume_epochs=resume_epochs or {}, kill_after_epoch=kill_after_epoch,
               storage_patience=storage_patience)
    except Exception as exc:  # an error of the whole group would come back from any checkpoint: not retried
        tune.report({"epoch": 0.0, FAILURE_KEY: f"{type(exc).__name__}: {exc}".splitlines()[0][:500]})
        raise


def _train(plans: list[TrialPlan], objectives: list[str], *, checkpoint_root: str, checkpoint_every: int,
           resume_epochs: dict[str, int], kill_after_epoch: Optional[int], storage_patience: Optional[float]) -> None:
    fused = FusedTrainer.from_configs([TrialConfig.of_plan(p.config) for p in plans], seeds=[p.seed for p in plans],
                                      dataset=dataset_for(plans[0].config["data"]))
    states = [_member_state(checkpoint_root, p.run_key, resume_epochs.get(p.run_key)) for p in plans]
    # A failed member is not saved in the group's checkpoints: one missing from Tune's checkpoint
    # of this retried trial failed before it and stays out (the driver has closed its run). Without
    # that checkpoint, a member with no state saved starts afresh.
    retried = tune.get_checkpoint() is not None
    fused.load_state_dicts([state if state is not None or retried else fused.state_dict(k)
                            for k, state in enumerate(states)])
    node = ray.get_runtime_context().get_node_id()
    # What a lone trial's epochs carry besides its metrics: where it ran, where it resumed.
    extras = [{NODE_KEY: node, RESUMED_FROM_KEY: member.epoch} for member in fused.members]
    reported = set(fused.failures)  # members whose failure was sent (by an earlier attempt too)
    while not fused.done:
        members = {plans[k].run_key: _member_result(fused, k, metrics, extras[k])
                   for k, metrics in fused.run_epoch().items()}
        for k, reason in fused.failures.items():
            if k not in reported:
                reported.add(k)
                members[plans[k].run_key] = {"epoch": float(fused.members[k].epoch), FAILURE_KEY: reason,
                                             **{name: math.nan for name in objectives}}
        epoch = max(member.epoch for member in fused.members)
        _report(fused, plans, extras, {"epoch": float(epoch), MEMBERS_KEY: members},
                checkpoint=fused.done or epoch % checkpoint_every == 0, storage_patience=storage_patience)
        faults.maybe_kill_worker(epoch, kill_after_epoch)


def _member_result(fused: FusedTrainer, k: int, metrics: dict[str, float], extra: dict[str, Any]) -> dict[str, Any]:
    member = fused.members[k]
    return {**metrics, **extra, **system_metrics(member.device), TOTAL_EPOCHS_KEY: member.total_epochs,
            STOPPED_EARLY_KEY: float(member.stopped_early), DEVICE_KEY: member.device.type,
            CUDA_GRAPHS_KEY: FUSED_GRAPHS}


def _report(fused: FusedTrainer, plans: list[TrialPlan], extras: list[dict[str, Any]], result: dict[str, Any], *,
            checkpoint: bool, storage_patience: Optional[float]) -> None:
    """Send one fused epoch; the last one carries every member's final report, and its summary
    in the member's result (members that ended earlier are added to it)."""
    if not checkpoint:
        tune.report(result)
        return
    with tempfile.TemporaryDirectory() as folder:
        for k, plan in enumerate(plans):
            if k in fused.failures:
                continue
            member_folder = Path(folder) / plan.run_key
            member_folder.mkdir()
            torch.save(fused.state_dict(k), member_folder / CHECKPOINT_FILE)
            if fused.done:
                final = fused.members[k].final_report()
                final.write(member_folder / REPORT_FOLDER)
                members = result[MEMBERS_KEY]
                if plan.run_key not in members:  # it ended at an earlier epoch
                    members[plan.run_key] = _member_result(fused, k, fused.members[k].last_metrics, extras[k])
                members[plan.run_key].update(final.summary())
        checkpoint_retry.send_with_checkpoint(lambda saved: tune.report(result, checkpoint=saved), folder,
                                              patience_s=storage_patience)
