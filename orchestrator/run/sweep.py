"""Run a study: the design plans its stages (fixed plans, or a searcher), each runs as one Ray
Tune stage, and driver-side callbacks record every trial in MLflow."""

from __future__ import annotations

import functools
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ray import tune
from ray.tune.logger import JsonLoggerCallback

from .. import faults, storage
from ..designs import PlanStage, Stage, get_design
from ..labels import recipe_suffix
from ..provenance import provenance
from ..report.note import study_note
from ..spec.fused import FusedChoice, FusedChooser, fused_groups, fused_size, unmeasured
from ..spec.plans import TrialPlan
from ..spec.study import StudySpec
from ..tracking import reader
from ..tracking.names import (ADDED_TO_STUDY, FUSED_PACKING_ARTIFACT, GPU_SHARING_NOTE_TAG, GPU_SHARING_TAG,
                              GPUS_PER_TRIAL_TAG, PACKING_ARTIFACT, TAG)
from ..tracking.store import open_client, redact, redact_spec, resolve_uri
from ..tracking.writer import StudyTracker
from . import capacity, checkpoint_retry
from .auto_share import Chooser, Measured, share_for_sweep
from .callbacks import FailuresAreFinal, ProgressPrinter, SweepTally, TrialPlans
from .cluster import cluster_address, connect_ray, quiet_tune_defaults, ray_stopped_at_end
from .gpu_sharing import UNSHARED, Sharing, cuda_available, gpu_sharing, sweep_folder, trial_share
from .fused_members import FusedFanOut
from .fused_trial import run_fused_trial
from .plan_grid import PlanLookup, TrialNames, fused_grid, plan_grid
from .prepare import new_store, prepare
from .study_guard import relabel
from .study_scheduler import build_scheduler
from .trial import run_trial, stop_when_trained_out
from .trial_logger import MlflowTrialLogger

Echo = Callable[[str], None]


@dataclass
class SweepOutcome:
    study: str
    tracking_uri: str
    parent_run_id: str
    tally: SweepTally
    skipped: int
    pareto: list[str] = field(default_factory=list)  # a multi-objective search's front, by run name
    interrupted: int = 0  # runs marked KILLED because their trial was stopped
    stopped: bool = False  # Ctrl-C (or SIGTERM) ended the sweep before every trial did


class SweepInterrupted(Exception):
    """Tune stopped before every trial completed (Ctrl-C or SIGTERM)."""


class Sweep:
    """One invocation of ``orchestrate sweep``: its tracker, callbacks and Tune stages. It is the
    :class:`~orchestrator.designs.StudyState` its design plans against."""

    def __init__(self, spec: StudySpec, echo: Echo, *, resumable: dict[str, Any], label_suffix: str = "",
                 sharing: Sharing = UNSHARED, choose_fused: Optional[FusedChooser] = None,
                 cluster: bool = False) -> None:
        self.spec = spec
        self.choose_fused = choose_fused  # measures fused_trials: auto (bench.auto.auto_fused)
        self.sharing = sharing  # how trials share GPUs: a whole GPU each where sharing could not be fast
        self.gpu_share = trial_share(sharing, spec.resources.gpus_per_trial)  # what a trial asks Ray for
        self.fused_unmeasured = unmeasured(spec, cuda=cuda_available(), cluster=cluster, gpu_share=self.gpu_share)
        self.echo = echo
        self.spec_data = redact_spec(spec.model_dump(mode="json"))
        self.tracker = StudyTracker(spec.name, spec.tracking.uri)
        self.uri = self.tracker.uri
        self.tally = SweepTally(total=0)
        self.deadline = time.time() + spec.search.time_budget if spec.search.time_budget else None
        self.checkpoint_root = storage.join(spec.resources.storage or "ray_results", spec.name)
        self.storage, self.resumable = storage.join(self.checkpoint_root, time.strftime("%Y%m%d-%H%M%S")), resumable
        self.resumed_factors = [json.loads(run.data.tags[f"{TAG}factors"]) for run in resumable.values()]
        self.resume_epochs = {key: reader.last_logged_step(self.tracker.client, run.info.run_id)
                              for key, run in resumable.items()}
        self.label_suffix = label_suffix  # sets runs added to a study of another recipe apart
        self.lookup = PlanLookup(label_suffix)
        plans = TrialPlans(self.lookup)
        self.logger = MlflowTrialLogger(self.tracker, plans, epochs=spec.train.epochs,
                                        resumable={k: run.info.run_id for k, run in resumable.items()})
        self.identities = self.logger.identities
        self.callbacks = [
            JsonLoggerCallback(),
            FailuresAreFinal(),
            FusedFanOut([self.logger, ProgressPrinter(self.tally, plans, epochs=spec.train.epochs, echo=echo,
                                                      metric=spec.search.metrics[0], mode=spec.search.modes[0])],
                        plans, self.lookup),
            capacity.PendingReporter(capacity.per_trial(spec.resources, gpus=self.gpu_share), echo),
        ]

    def pending(self, plans: list[TrialPlan]) -> list[TrialPlan]:
        """``plans`` minus the (configuration, seed) runs the store already holds as FINISHED."""
        done = reader.finished_run_keys(self.tracker.client, self.spec.name)
        return [p for p in plans if p.run_key not in done]

    def record(self, data: dict[str, Any], file: str) -> None:
        self.tracker.log_dict(self.tracker.parent_run_id, data, file)

    def tag(self, run_id: str, tags: dict[str, str]) -> None:
        self.tracker.set_tags(run_id, tags)

    def run_stage(self, stage: Stage) -> None:
        """One Tune stage: every plan exactly once (a grid over the plans, so no sampler can
        repeat a cell), or the searcher's proposals."""
        if isinstance(stage, PlanStage):
            if not stage.plans:
                return
            self.tally.total = (self.tally.total or 0) + len(stage.plans)
            self.lookup.plans = [relabel(p, self.label_suffix) for p in stage.plans]
            size, line = fused_size(self.spec, self.lookup.plans, unmeasured=self.fused_unmeasured,
                                    choose=self._choose_fused if self.choose_fused is not None else None)
            if line:  # the K, or why 1, or the measured table: shown whichever K it came to
                self.echo(line)
            if size > 1:
                self.lookup.groups = fused_groups(self.lookup.plans, size)
                self.fit(fused_grid(self.lookup.groups), name=stage.name, num_samples=1, trials=len(stage.plans),
                         trainable=run_fused_trial)
            else:
                self.fit(plan_grid(self.lookup.plans), name=stage.name, num_samples=1, trials=len(stage.plans))
        else:
            self.tally.total = (self.tally.total or 0) + stage.samples
            self.fit({}, name=stage.name, num_samples=stage.samples, trials=stage.samples,
                     search_alg=stage.searcher)

    def _choose_fused(self, configs: list[dict[str, Any]]) -> FusedChoice:
        """``choose_fused``'s measurement, recorded on the parent run as gpus_per_trial auto's is."""
        chosen = self.choose_fused(configs)
        self.record({"k": chosen.k, "workloads": chosen.rows}, FUSED_PACKING_ARTIFACT)
        return chosen

    def fit(self, param_space: dict[str, Any], *, name: str, num_samples: int, trials: int,
            search_alg: Optional[tune.search.Searcher] = None, trainable: Callable[..., None] = run_trial) -> None:
        """Run one Tune stage of ``trials`` trials; raise :class:`SweepInterrupted` when Tune
        returned before each ended (Ctrl-C), unless the time budget or ``fail_fast`` ended it."""
        ended = self.tally.ended
        self.tuner(param_space, name=name, num_samples=num_samples, search_alg=search_alg, trainable=trainable).fit()
        # Tune returns normally on Ctrl-C, leaving trials uncompleted or never started: stop
        # here, not in a later stage, and let run_sweep mark the open runs interrupted.
        budget_spent = self.deadline is not None and time.time() >= self.deadline
        failed_fast = self.spec.search.fail_fast and bool(self.tally.failed)
        if self.logger.open or (self.tally.ended - ended < trials and not budget_spent and not failed_fast):
            raise SweepInterrupted(f"{trials - (self.tally.ended - ended)} trials did not end")

    def tuner(self, param_space: dict[str, Any], *, name: str, num_samples: int,
              search_alg: Optional[tune.search.Searcher], trainable: Callable[..., None] = run_trial) -> tune.Tuner:
        spec, resources = self.spec, self.spec.resources
        options = dict(objectives=spec.search.metrics, deadline=self.deadline, checkpoint_root=self.checkpoint_root,
                       checkpoint_every=resources.checkpoint_every, resume_epochs=self.resume_epochs,
                       kill_after_epoch=faults.kill_after_epoch_from_env(), storage_patience=checkpoint_retry.patience())
        # Small values: tune.with_parameters would fetch each from the object store at every trial.
        trainable = tune.with_resources(functools.partial(trainable, **options), {
            "cpu": resources.cpus_per_trial, "gpu": self.gpu_share})
        scheduler = spec.search.scheduler
        names = TrialNames(self.lookup)
        return tune.Tuner(
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
                trial_name_creator=names,
                trial_dirname_creator=names,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=self.storage,
                callbacks=self.callbacks,
                stop=stop_when_trained_out,
                verbose=0,
                checkpoint_config=tune.CheckpointConfig(
                    num_to_keep=scheduler.checkpoints_to_keep(spec) if scheduler else 2),
                failure_config=tune.FailureConfig(max_failures=resources.max_failures,
                                                  fail_fast=spec.search.fail_fast),
            ),
        )


def run_sweep(spec: StudySpec, *, address: Optional[str] = None, echo: Echo = print, resume: bool = False,
              add_to_study: bool = False, argv: Optional[list[str]] = None, plans: Optional[list[TrialPlan]] = None,
              choose_share: Optional[Chooser] = None, choose_fused: Optional[FusedChooser] = None) -> SweepOutcome:
    """Validate, expand and run ``spec``; configurations already FINISHED in the store are kept.

    With ``resume``, interrupted runs continue (same MLflow run, from their newest checkpoint)
    and the Optuna study goes on; without it, a study with interrupted runs is refused, and so
    is one whose base configuration differs from the study's unless ``add_to_study``.
    ``argv`` is the command line the parent run records (default: this process's); ``plans``
    the design's expansion of ``spec`` when the caller has already made it; ``choose_share`` and
    ``choose_fused`` measure for ``gpus_per_trial`` and ``fused_trials: auto`` (``bench.auto``).
    """
    plans, resumable, changes = prepare(spec, resume=resume, address=address, add_to_study=add_to_study, plans=plans)
    if changes:
        echo(f"adding to study {spec.name} with a different base configuration: "
             f"{', '.join(f'{k}={v!r}' for k, v in changes.items())}; its runs are labelled{recipe_suffix(changes)}")
    quiet_tune_defaults()
    resources = spec.resources
    # Trials sharing a GPU run under an MPS daemon started here, before Ray, so that Ray's workers
    # inherit its pipe folder; a cluster's nodes run their own (the compose GPU worker).
    local_cuda = cluster_address(address) is None and cuda_available()
    with sweep_folder(echo) as workdir, gpu_sharing(
            resources.gpu_sharing, gpus_per_trial=resources.gpus_per_trial, cuda=local_cuda,
            workdir=workdir) as sharing, ray_stopped_at_end():
        if sharing.message:
            echo(sharing.message)
        # auto is measured under the daemon just started: that is how the trials will run.
        spec, measured = share_for_sweep(spec, sharing, plans, address=address, cuda=local_cuda,
                                         choose=choose_share, echo=echo)
        return _run(spec, sharing, address=address, echo=echo, resume=resume, plans=plans, resumable=resumable,
                    changes=changes, argv=argv, measured=measured, choose_fused=choose_fused)


def _run(spec: StudySpec, sharing: Sharing, *, address: Optional[str], echo: Echo, resume: bool,
         plans: Optional[list[TrialPlan]], resumable: dict[str, Any], changes: dict[str, Any],
         argv: Optional[list[str]], measured: Optional[Measured] = None,
         choose_fused: Optional[FusedChooser] = None) -> SweepOutcome:
    """The checked sweep: Ray, the store's parent run, the design's stages."""
    if new_store(spec):
        # Creating a SQLite store runs MLflow's migrations (seconds of Python) while Ray's start
        # mostly waits on Ray's own processes: side by side. The tracker then opens a ready store.
        with ThreadPoolExecutor(1) as pool:
            created = pool.submit(open_client, resolve_uri(spec.tracking.uri))
            connect_ray(address)
            created.result()
    sweep = Sweep(spec, echo, resumable=resumable, label_suffix=recipe_suffix(changes), sharing=sharing,
                  choose_fused=choose_fused, cluster=cluster_address(address) is not None)
    design = get_design(spec.search.kind)
    skipped = 0
    if plans is not None:
        pending = sweep.pending(plans)
        skipped = len(plans) - len(pending)
        if skipped:
            echo(f"{skipped} trials already finished in {redact(sweep.uri)}; running the other {len(pending)}")
        plans = pending
    if (not plans if plans is not None else not design.has_work(sweep)) and not resume:
        if plans is None:
            echo(f"study {spec.name}: every trial of its search already ran; nothing to do")
        return SweepOutcome(spec.name, sweep.uri, "", sweep.tally, skipped)  # no new, empty parent run
    connect_ray(address)  # joined above for a new store
    _open_parent(sweep, resume=resume, plans=plans, changes=changes, argv=argv)
    if measured is not None:
        sweep.tag(sweep.tracker.parent_run_id, {GPUS_PER_TRIAL_TAG: f"{measured.share:g}"})
        sweep.record({"k": round(1 / measured.share), "workloads": measured.rows}, PACKING_ARTIFACT)
    outcome = SweepOutcome(spec.name, sweep.uri, sweep.tracker.parent_run_id or "", sweep.tally, skipped)
    _drive(sweep, plans, outcome)
    return outcome


def _open_parent(sweep: Sweep, *, resume: bool, plans: Optional[list[TrialPlan]], changes: dict[str, Any],
                 argv: Optional[list[str]]) -> None:
    """The study's parent run: reopened by a resume, else a new one with the sweep's provenance."""
    sharing = {GPU_SHARING_TAG: sweep.sharing.mode, GPU_SHARING_NOTE_TAG: sweep.sharing.message}
    if resume:
        sweep.tracker.resume_sweep()
        sweep.tracker.set_tags(sweep.tracker.parent_run_id, sharing)  # this sweep's sharing, not the last's
    else:
        sweep.tracker.start_sweep(sweep.spec_data, trial_count=len(plans) if plans is not None else None,
                                  provenance=provenance(Path.cwd(), sys.argv if argv is None else argv),
                                  extra_tags={**sharing, **({ADDED_TO_STUDY: json.dumps(changes)} if changes else {})})
    sweep.echo(f"study {sweep.spec.name}: tracking {redact(sweep.uri)} (parent run {sweep.tracker.parent_run_id})")


def _drive(sweep: Sweep, plans: Optional[list[TrialPlan]], outcome: SweepOutcome) -> None:
    """Run the design's stages; whatever ends them, close every open run and the parent run."""
    design = get_design(sweep.spec.search.kind)
    status = "FAILED"
    try:
        for stage in design.stages(sweep, plans):
            sweep.run_stage(stage)
        outcome.pareto = design.pareto_front(sweep)
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
        sweep.tracker.set_note(sweep.tracker.parent_run_id, study_note(sweep.spec.name, uri=sweep.uri))
        sweep.tracker.end_sweep(status)
