"""Run a study: plans -> Ray Tune (grid or OptunaSearch, optional ASHA) -> MLflow via callbacks."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import ray
from ray import tune

from .callbacks import MlflowTrialLogger, ProgressPrinter, SweepTally
from .errors import OrchestrateError
from .space import TrialPlan, optuna_space, plan_sweep
from .spec import SweepSpec
from .tracking import StudyTracker
from .trial import PLAN_KEY, plan_for, run_trial

Echo = Callable[[str], None]


@dataclass
class SweepOutcome:
    study: str
    tracking_uri: str
    parent_run_id: str
    tally: SweepTally
    skipped: int


def connect_ray(address: Optional[str]) -> None:
    """Join ``address`` (or ``$RAY_ADDRESS``), else start Ray on this machine's CPUs and GPUs."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,  # trial output goes to Ray's logs; the driver prints progress
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise OrchestrateError(f"cannot connect to Ray at {address}: {exc}") from None


def _tune_config(spec: SweepSpec) -> tune.TuneConfig:
    search = spec.search
    search_alg = None
    if search.kind == "optuna":
        from optuna.samplers import TPESampler
        from ray.tune.search.optuna import OptunaSearch

        search_alg = OptunaSearch(
            space=optuna_space(spec), metric=search.metric, mode=search.mode,
            sampler=TPESampler(seed=spec.train.seed),
        )
    scheduler = None
    if search.scheduler is not None:
        scheduler = tune.schedulers.ASHAScheduler(
            time_attr="epoch",
            max_t=spec.train.epochs,
            grace_period=search.scheduler.grace_period,
            reduction_factor=search.scheduler.reduction_factor,
        )
    return tune.TuneConfig(
        metric=search.metric,
        mode=search.mode,
        search_alg=search_alg,
        scheduler=scheduler,
        num_samples=search.num_samples if search.kind == "optuna" else 1,
        max_concurrent_trials=spec.resources.max_concurrent,
        trial_name_creator=lambda trial: f"trial_{trial.trial_id}",
        trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
    )


def run_sweep(spec: SweepSpec, *, address: Optional[str] = None, echo: Echo = print) -> SweepOutcome:
    """Validate, expand and run ``spec``; configurations already FINISHED in the store are kept."""
    plans = plan_sweep(spec)
    tracker = StudyTracker(spec.name, spec.tracking.uri)
    skipped = 0
    if plans is not None:
        done = tracker.finished_run_keys()
        skipped = sum(p.run_key in done for p in plans)
        plans = [p for p in plans if p.run_key not in done]
        if skipped:
            echo(f"{skipped} trials already finished in {tracker.uri}; running the other {len(plans)}")
    # Tune's newer console output ignores verbose=0; the legacy one honours it, and the
    # ProgressPrinter callback is the display.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    connect_ray(address)
    spec_data = spec.model_dump(mode="json")
    tracker.start_sweep(spec_data, trial_count=len(plans) if plans is not None else None)
    echo(f"study {spec.name}: tracking {tracker.uri} (parent run {tracker.parent_run_id})")
    tally = SweepTally(total=len(plans) if plans is not None else spec.search.num_samples)
    lookup = functools.partial(plan_for, spec)
    callbacks = [
        MlflowTrialLogger(tracker, lookup, epochs=spec.train.epochs, metric=spec.search.metric),
        ProgressPrinter(tally, lookup, epochs=spec.train.epochs, metric=spec.search.metric,
                        mode=spec.search.mode, echo=echo),
    ]
    status = "FAILED"
    try:
        if plans != []:
            _fit(spec, spec_data, plans, callbacks)
        status = "FAILED" if tally.failed else "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.end_sweep(status)
    return SweepOutcome(spec.name, tracker.uri, tracker.parent_run_id or "", tally, skipped)


def _fit(spec: SweepSpec, spec_data: dict[str, Any], plans: Optional[list[TrialPlan]],
         callbacks: list[tune.Callback]) -> None:
    resources = spec.resources
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, spec=spec_data),
        {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial},
    )
    param_space: dict[str, Any] = {}
    if plans is not None:
        param_space = {PLAN_KEY: tune.grid_search([p.to_dict() for p in plans])}
    storage = Path(resources.storage or "ray_results").resolve()
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=_tune_config(spec),
        run_config=tune.RunConfig(
            name=spec.name,
            storage_path=str(storage),
            callbacks=callbacks,
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    tuner.fit()
