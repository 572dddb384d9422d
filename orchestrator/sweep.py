"""Run a study: plans -> Ray Tune (grid, or OptunaSearch per grid cell, then a confirm stage)
-> MLflow through driver-side callbacks."""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ray import tune
from ray.tune.logger import JsonLoggerCallback

from . import capacity, faults, storage
from .callbacks import FailuresAreFinal, MlflowTrialLogger, ProgressPrinter, SweepTally, TrialPlans
from .cluster import connect_ray, quiet_tune_defaults
from .data import load_dataset
from .designs import get_design
from .errors import ResumeError
from .plan_grid import PlanLookup, plan_grid
from .plans import TrialPlan
from .provenance import provenance
from .report.note import study_note
from .schedulers import build_scheduler, checkpoints_to_keep
from .search import build_searcher, finished_trial_count, optuna_storage_path
from .spec import SweepSpec, TrackingSpec
from .labels import recipe_suffix
from .study_guard import check_base, relabel
from .tracking import reader
from .tracking.names import ADDED_TO_STUDY, TAG
from .tracking.store import (absent_sqlite_file, check_reachable, open_client, redact, redact_spec, resolve_uri,
                             spec_differences)
from .tracking.writer import StudyTracker
from .trial import run_trial, stop_when_trained_out, trial_dirname

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
    interrupted: int = 0  # runs marked KILLED because their trial was stopped
    stopped: bool = False  # Ctrl-C (or SIGTERM) ended the sweep before every trial did


def preflight_data(spec: SweepSpec, plans: Optional[list[TrialPlan]]) -> None:
    """Load every dataset the sweep trains on once in the driver, before anything is recorded.

    A missing archive fails here with its message instead of in every trial, and the decoded
    cache is written once instead of by concurrent trials.
    """
    configs = [p.config["data"] for p in plans] if plans else [spec.data.model_dump(mode="json")]
    seen: set[str] = set()
    for data in configs:
        key = json.dumps([data["dataset"], data["root"], data["options"]], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            load_dataset(data["dataset"], root=data["root"], download=data["download"], **data["options"])


class SweepInterrupted(Exception):
    """Tune stopped before every trial completed (Ctrl-C or SIGTERM)."""


class Sweep:
    """One invocation of ``orchestrate sweep``: its tracker, callbacks and Tune stages."""

    def __init__(self, spec: SweepSpec, echo: Echo, *, resumable: dict[str, Any], label_suffix: str = "") -> None:
        self.spec = spec
        self.echo = echo
        self.spec_data = redact_spec(spec.model_dump(mode="json"))
        self.tracker = StudyTracker(spec.name, spec.tracking.uri)
        self.tally = SweepTally(total=0)
        self.deadline = time.time() + spec.search.time_budget if spec.search.time_budget else None
        self.checkpoint_root = storage.join(spec.resources.storage or "ray_results", spec.name)
        self.storage = storage.join(self.checkpoint_root, time.strftime("%Y%m%d-%H%M%S"))
        self.optuna_storage = optuna_storage_path(self.tracker.uri, spec.name)
        self.resumable = resumable
        self.resume_epochs = {key: reader.last_logged_step(self.tracker.client, run.info.run_id)
                              for key, run in resumable.items()}
        self.label_suffix = label_suffix  # sets runs added to a study of another recipe apart
        self.lookup = PlanLookup(spec, label_suffix)
        # What trials receive: the validated spec, without the tracking URI (and its password).
        self.trial_spec = spec.model_copy(update={"tracking": TrackingSpec()})
        search = spec.search
        plans = TrialPlans(self.lookup)
        self.logger = MlflowTrialLogger(self.tracker, plans, epochs=spec.train.epochs,
                                        resumable={k: run.info.run_id for k, run in resumable.items()})
        self.callbacks = [
            JsonLoggerCallback(),
            FailuresAreFinal(),
            self.logger,
            ProgressPrinter(self.tally, plans, epochs=spec.train.epochs, metric=search.metrics[0],
                            mode=search.modes[0], echo=echo),
            capacity.PendingReporter(capacity.per_trial(spec.resources), echo),
        ]

    def pending(self, plans: list[TrialPlan]) -> list[TrialPlan]:
        """``plans`` minus the (configuration, seed) runs the store already holds as FINISHED."""
        done = reader.finished_run_keys(self.tracker.client, self.spec.name)
        return [p for p in plans if p.run_key not in done]

    def run_plans(self, plans: list[TrialPlan], *, name: str) -> None:
        """Every plan exactly once: a grid over the plans, so no sampler can repeat a cell."""
        if not plans:
            return
        self.tally.total = (self.tally.total or 0) + len(plans)
        self.lookup.plans = [relabel(p, self.label_suffix) for p in plans]
        self.fit(plan_grid(self.lookup.plans), name=name, num_samples=1, trials=len(plans))

    def run_search(self, study_name: str, cell: dict[str, Any], space: Callable[[Any], dict], *,
                   stage: str) -> None:
        """One Optuna study (of one grid ``cell``): the rest of its ``num_samples`` proposals.
        Interrupted proposals are asked again first, so they continue from their checkpoints."""
        search = self.spec.search
        done = finished_trial_count(self.optuna_storage, study_name)
        again = [json.loads(run.data.tags[f"{TAG}factors"]) for run in self.resumable.values()]
        again = [point for point in again if all(point.get(k) == v for k, v in cell.items())]
        samples = max(search.num_samples - done, len(again))
        if samples == 0:
            return
        searcher = build_searcher(
            search, space, study_name=study_name, storage_path=self.optuna_storage,
            seed=self.spec.train.seed, deadline=self.deadline,
            points_to_evaluate=[{k: v for k, v in p.items() if k not in cell} for p in again],
            identities=self.logger.identities,
        )
        self.tally.total = (self.tally.total or 0) + samples
        self.fit({}, name=stage, num_samples=samples, trials=samples, search_alg=searcher)

    def fit(self, param_space: dict[str, Any], *, name: str, num_samples: int, trials: int,
            search_alg: Optional[tune.search.Searcher] = None) -> None:
        """Run one Tune stage of ``trials`` trials; raise :class:`SweepInterrupted` when Tune
        returned before each ended (Ctrl-C), unless the time budget or ``fail_fast`` ended it."""
        spec, search, resources = self.spec, self.spec.search, self.spec.resources
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, spec=self.trial_spec, deadline=self.deadline,
                                 checkpoint_root=self.checkpoint_root, resume_epochs=self.resume_epochs,
                                 kill_after_epoch=faults.kill_after_epoch_from_env()),
            {"cpu": resources.cpus_per_trial, "gpu": resources.gpu_share},
        )
        lookup = self.lookup
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                search_alg=search_alg,
                scheduler=build_scheduler(spec),
                num_samples=num_samples,
                max_concurrent_trials=resources.max_concurrent,
                # A finished trial's worker runs the next one: torch, timm and the CUDA context are
                # loaded once per slot instead of once per trial (seconds each), which adds up
                # over short or pruned trials and PBT's pauses. Each trial reseeds everything.
                reuse_actors=resources.reuse_workers,
                trial_name_creator=lambda trial: trial_dirname(lookup(trial.config)),
                trial_dirname_creator=lambda trial: trial_dirname(lookup(trial.config)),
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=self.storage,
                callbacks=self.callbacks,
                stop=stop_when_trained_out,
                verbose=0,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=checkpoints_to_keep(spec)),
                failure_config=tune.FailureConfig(max_failures=resources.max_failures,
                                                  fail_fast=search.fail_fast),
            ),
        )
        ended = self.tally.ended
        tuner.fit()
        # Tune returns normally on Ctrl-C, leaving trials uncompleted or never started: stop
        # here, not in a later stage, and let run_sweep mark the open runs interrupted.
        budget_spent = self.deadline is not None and time.time() >= self.deadline
        failed_fast = search.fail_fast and bool(self.tally.failed)
        if self.logger.open or (self.tally.ended - ended < trials and not budget_spent and not failed_fast):
            raise SweepInterrupted(f"{trials - (self.tally.ended - ended)} trials did not end")


def new_store(spec: SweepSpec) -> bool:
    """Whether the study's store is a SQLite file that does not exist yet."""
    return absent_sqlite_file(resolve_uri(spec.tracking.uri)) is not None


def prepare(spec: SweepSpec, *, resume: bool, address: Optional[str] = None, add_to_study: bool = False,
            plans: Optional[list[TrialPlan]] = None,
            ) -> tuple[Optional[list[TrialPlan]], dict[str, Any], dict[str, Any]]:
    """Everything checked before Ray starts or the store is written: plans, data, resume state,
    and the base-configuration keys in which this sweep differs from the study's recorded one.
    ``plans``: the design's expansion when the caller already has it (expanding a large study
    resolves and validates every plan); None expands here (an Optuna study's is cheap)."""
    plans = plans if plans is not None else get_design(spec.search.kind).expand(spec)
    address = address or os.environ.get("RAY_ADDRESS")
    capacity.check_target(address, spec.resources)
    check_reachable(resolve_uri(spec.tracking.uri))  # before a client creates anything there
    if new_store(spec):  # nothing to resume or compare with; created while Ray starts (run_sweep)
        if resume:
            raise ResumeError(f"study {spec.name!r} has no sweep to resume in {redact(resolve_uri(spec.tracking.uri))}")
        resumable, changes = {}, {}
    else:
        resumable, changes = recorded_state(spec, resume=resume, add_to_study=add_to_study)
    preflight_data(spec, plans)
    return plans, resumable, changes


def recorded_state(spec: SweepSpec, *, resume: bool, add_to_study: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the study's store holds for this sweep: its interrupted runs, and the base keys in
    which this sweep differs from the study's recorded recipe; refuses what cannot go on."""
    tracker = StudyTracker(spec.name, spec.tracking.uri)
    resumable = reader.unfinished_trials(tracker.client, spec.name)
    recorded = reader.recorded_spec(tracker.client, spec.name)
    if resume:
        if recorded is None:
            raise ResumeError(f"study {spec.name!r} has no sweep to resume in {redact(tracker.uri)}")
        differences = spec_differences(recorded, redact_spec(spec.model_dump(mode="json")))
        if differences:
            raise ResumeError(f"the spec differs from the one that started {spec.name!r}: "
                              f"{'; '.join(differences[:5])}; resume with that spec or use a new name")
        return resumable, {}
    if resumable:
        raise ResumeError(f"study {spec.name!r} has {len(resumable)} interrupted runs; continue them "
                          f"with `orchestrate sweep ... --resume` (or give the study a new name)")
    return resumable, check_base(spec.name, recorded, spec.model_dump(mode="json"), add_to_study=add_to_study)


def run_sweep(spec: SweepSpec, *, address: Optional[str] = None, echo: Echo = print,
              resume: bool = False, add_to_study: bool = False,
              argv: Optional[list[str]] = None, plans: Optional[list[TrialPlan]] = None) -> SweepOutcome:
    """Validate, expand and run ``spec``; configurations already FINISHED in the store are kept.

    With ``resume``, interrupted runs continue (same MLflow run, from their newest checkpoint)
    and the Optuna study goes on; without it, a study with interrupted runs is refused, and so
    is one whose base configuration differs from the study's unless ``add_to_study``.
    ``argv`` is the command line the parent run records (default: this process's); ``plans``
    the design's expansion of ``spec`` when the caller has already made it.
    """
    plans, resumable, changes = prepare(spec, resume=resume, address=address, add_to_study=add_to_study,
                                        plans=plans)
    if changes:
        echo(f"adding to study {spec.name} with a different base configuration: "
             f"{', '.join(f'{k}={v!r}' for k, v in changes.items())}; its runs are labelled{recipe_suffix(changes)}")
    quiet_tune_defaults()
    if new_store(spec):
        # Creating a SQLite store runs MLflow's migrations (seconds of Python) while Ray's start
        # mostly waits on Ray's own processes: side by side. The tracker then opens a ready store.
        with ThreadPoolExecutor(1) as pool:
            created = pool.submit(open_client, resolve_uri(spec.tracking.uri))
            connect_ray(address)
            created.result()
    sweep = Sweep(spec, echo, resumable=resumable, label_suffix=recipe_suffix(changes))
    design = get_design(spec.search.kind)
    skipped = 0
    if plans is not None:
        pending = sweep.pending(plans)
        skipped = len(plans) - len(pending)
        if skipped:
            echo(f"{skipped} trials already finished in {redact(sweep.tracker.uri)}; running the other {len(pending)}")
        plans = pending
    nothing_left = not plans if plans is not None else not design.has_work(sweep)
    if nothing_left and not resume:
        if plans is None:
            echo(f"study {spec.name}: every trial of its search already ran; nothing to do")
        return SweepOutcome(spec.name, sweep.tracker.uri, "", sweep.tally, skipped)  # no new, empty parent run
    connect_ray(address)  # joined above for a new store
    if resume:
        sweep.tracker.resume_sweep()
    else:
        sweep.tracker.start_sweep(sweep.spec_data, trial_count=len(plans) if plans is not None else None,
                                  provenance=provenance(Path.cwd(), sys.argv if argv is None else argv),
                                  extra_tags={ADDED_TO_STUDY: json.dumps(changes)} if changes else None)
    echo(f"study {spec.name}: tracking {redact(sweep.tracker.uri)} (parent run {sweep.tracker.parent_run_id})")
    status = "FAILED"
    outcome = SweepOutcome(spec.name, sweep.tracker.uri, sweep.tracker.parent_run_id or "", sweep.tally, skipped)
    try:
        design.run(sweep, plans, outcome)
        status = "FAILED" if sweep.tally.failed else "FINISHED"
    except (SweepInterrupted, KeyboardInterrupt) as stop:
        status, outcome.stopped = "KILLED", True
        if isinstance(stop, KeyboardInterrupt):
            raise
    finally:
        outcome.interrupted = sweep.logger.close_open_runs()
        for run_id in sweep.logger.resumable.values():  # interrupted earlier, not continued now
            sweep.tracker.mark_interrupted(run_id)
        if outcome.interrupted:
            status = "KILLED"
        sweep.tracker.set_note(sweep.tracker.parent_run_id, study_note(spec.name, uri=sweep.tracker.uri))
        sweep.tracker.end_sweep(status)
    return outcome
