"""Run a study: plans -> Ray Tune (grid, or OptunaSearch per grid cell, then a confirm stage)
-> MLflow through driver-side callbacks."""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import ray
from ray import tune

from .callbacks import MlflowTrialLogger, ProgressPrinter, SweepTally
from .errors import OrchestrateError
from .results import confirm_plans, pareto_front
from .search import build_scheduler, build_searcher, optuna_storage_path
from .space import TrialPlan, define_by_run, label_for, optuna_cells, plan_sweep
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
    optuna_storage: Optional[Path] = None
    pareto: list[str] = field(default_factory=list)


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


class Sweep:
    """One invocation of ``orchestrate sweep``: its tracker, callbacks and Tune stages."""

    def __init__(self, spec: SweepSpec, echo: Echo) -> None:
        self.spec = spec
        self.echo = echo
        self.spec_data = spec.model_dump(mode="json")
        self.tracker = StudyTracker(spec.name, spec.tracking.uri)
        self.tally = SweepTally(total=0)
        self.deadline = time.time() + spec.search.time_budget if spec.search.time_budget else None
        self.storage = Path(spec.resources.storage or "ray_results").resolve()
        self.optuna_storage = optuna_storage_path(self.tracker.uri, spec.name)
        lookup = functools.partial(plan_for, spec)
        search = spec.search
        self.callbacks = [
            MlflowTrialLogger(self.tracker, lookup, epochs=spec.train.epochs),
            ProgressPrinter(self.tally, lookup, epochs=spec.train.epochs, metric=search.metrics[0],
                            mode=search.modes[0], echo=echo),
        ]

    def pending(self, plans: list[TrialPlan]) -> list[TrialPlan]:
        """``plans`` minus the (configuration, seed) runs the store already holds as FINISHED."""
        done = self.tracker.finished_run_keys()
        return [p for p in plans if p.run_key not in done]

    def run_plans(self, plans: list[TrialPlan], *, name: str) -> None:
        """Every plan exactly once: a grid over whole plans, so no sampler can repeat a cell."""
        if not plans:
            return
        self.tally.total = (self.tally.total or 0) + len(plans)
        self.fit({PLAN_KEY: tune.grid_search([p.to_dict() for p in plans])}, name=name, num_samples=1)

    def run_optuna(self) -> None:
        search = self.spec.search
        cells = optuna_cells(self.spec)
        for index, cell in enumerate(cells):
            study_name = self.spec.name if len(cells) == 1 else f"{self.spec.name}[{label_for(cell)}]"
            searcher = build_searcher(
                search, define_by_run(self.spec, cell), study_name=study_name,
                storage_path=self.optuna_storage, seed=self.spec.train.seed, deadline=self.deadline,
            )
            self.tally.total = (self.tally.total or 0) + search.num_samples
            suffix = "" if len(cells) == 1 else f"-cell{index}"
            self.fit({}, name=f"{self.spec.name}{suffix}", num_samples=search.num_samples, search_alg=searcher)

    def fit(self, param_space: dict[str, Any], *, name: str, num_samples: int,
            search_alg: Optional[tune.search.Searcher] = None) -> None:
        spec, search, resources = self.spec, self.spec.search, self.spec.resources
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, spec=self.spec_data, deadline=self.deadline),
            {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                search_alg=search_alg,
                scheduler=build_scheduler(search.scheduler, epochs=spec.train.epochs,
                                          metric=search.metrics[0], mode=search.modes[0]),
                num_samples=num_samples,
                max_concurrent_trials=resources.max_concurrent,
                trial_name_creator=lambda trial: f"trial_{trial.trial_id}",
                trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=str(self.storage),
                callbacks=self.callbacks,
                verbose=0,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=search.fail_fast),
            ),
        )
        tuner.fit()


def run_sweep(spec: SweepSpec, *, address: Optional[str] = None, echo: Echo = print) -> SweepOutcome:
    """Validate, expand and run ``spec``; configurations already FINISHED in the store are kept."""
    plans = plan_sweep(spec)
    sweep = Sweep(spec, echo)
    skipped = 0
    if plans is not None:
        pending = sweep.pending(plans)
        skipped = len(plans) - len(pending)
        if skipped:
            echo(f"{skipped} trials already finished in {sweep.tracker.uri}; running the other {len(pending)}")
        plans = pending
    # Tune's newer console output ignores verbose=0; the legacy one honours it, and the
    # ProgressPrinter callback is the display.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    connect_ray(address)
    sweep.tracker.start_sweep(sweep.spec_data, trial_count=len(plans) if plans is not None else None)
    echo(f"study {spec.name}: tracking {sweep.tracker.uri} (parent run {sweep.tracker.parent_run_id})")
    status = "FAILED"
    outcome = SweepOutcome(spec.name, sweep.tracker.uri, sweep.tracker.parent_run_id or "", sweep.tally, skipped)
    try:
        if plans is not None:
            sweep.run_plans(plans, name=spec.name)
        else:
            echo(f"optuna study {spec.name}: {sweep.optuna_storage} (optuna-dashboard {sweep.optuna_storage})")
            outcome.optuna_storage = sweep.optuna_storage
            sweep.run_optuna()
            if spec.search.confirm is not None:
                confirm = sweep.pending(confirm_plans(spec, sweep.tracker.uri))
                echo(f"confirm: re-running the top {spec.search.confirm.top_k} configurations "
                     f"with {spec.search.repeats} seeds ({len(confirm)} trials)")
                sweep.run_plans(confirm, name=f"{spec.name}-confirm")
            if spec.search.multi_objective:
                outcome.pareto = pareto_front(spec, sweep.tracker)
        status = "FAILED" if sweep.tally.failed else "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        sweep.tracker.end_sweep(status)
    return outcome
