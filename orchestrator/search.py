"""Ray Tune's side of a search: Optuna samplers and study storage, trial schedulers, budgets."""

from __future__ import annotations

import copy
import random
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Union

import optuna
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler
from ray.tune.schedulers.pbt import _explore  # Ray's explore step, which _get_new_config wraps
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from .distributions import parse_distribution
from .search_spec import PBT_MUTABLE, SearchSpec, TrialSchedulerSpec
from .space import get_path, set_path
from .tracking.store import sqlite_path
from .trial import PLAN_KEY, stopped_by_scheduler

SAMPLER_BUILDERS: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "qmc": lambda seed: optuna.samplers.QMCSampler(seed=seed),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
}


def build_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    return SAMPLER_BUILDERS[name](seed)


def optuna_storage_path(tracking_uri: str, study: str) -> Path:
    """Where a study's Optuna journal lives: beside a SQLite MLflow store, else in ./optuna/.

    A journal file is what ``optuna-dashboard PATH`` opens, and it tolerates the driver being
    killed mid-write, which a second SQLite writer beside MLflow's would not.
    """
    database = sqlite_path(tracking_uri)
    folder = database.parent if database is not None else Path.cwd()
    return folder / "optuna" / f"{study}.journal"


def journal_storage(path: Path) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


class BudgetedOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that stops proposing once the sweep's time budget is spent.

    Tune's own ``time_budget_s`` kills the running trials; a budget here only stops launching,
    so every started trial ends cleanly.
    """

    def __init__(self, *args: Any, deadline: Optional[float] = None,
                 identities: Optional[dict[str, dict[str, str]]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        # Tune trial id -> {"run_key", "mlflow_run_id"}, filled by the driver's MLflow logger:
        # stored as each Optuna trial's user attributes, so the dashboard leads to the run.
        self.identities = identities if identities is not None else {}
        self.reported: dict[str, int] = {}  # Tune trial id -> last epoch reported to Optuna

    def _setup_study(self, mode: Union[str, list]) -> None:
        """Name the objectives: the dashboard shows "Objective 0" for an unnamed one."""
        super()._setup_study(mode)
        with warnings.catch_warnings():  # experimental since Optuna 3.2, unchanged since
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._ot_study.set_metric_names(self.metric if self.multi_objective else [self.metric])

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Report the objective at its epoch (Ray's integration uses Tune's iteration count,
        which restarts after a resume), once per epoch, so the dashboard draws learning curves."""
        trial = self._ot_trials.get(trial_id)
        if trial is not None and trial_id not in self._completed_trials:
            self._record(trial_id, trial, result)

    def _record(self, trial_id: str, trial: optuna.Trial, result: Optional[dict]) -> None:
        """The trial's run identity, and the epoch's value while the trial is still open."""
        for key, value in self.identities.get(trial_id, {}).items():
            if trial.user_attrs.get(key) != value:
                trial.set_user_attr(key, value)
        if self.multi_objective or not result or self.metric not in result or "epoch" not in result:
            return  # Optuna keeps intermediate values of single-objective studies only
        step = int(result["epoch"])
        if step > self.reported.get(trial_id, 0):  # a retried trial re-reports restored epochs
            self.reported[trial_id] = step
            trial.report(float(result[self.metric]), step)

    def suggest(self, trial_id: str) -> Optional[dict]:
        if self.deadline is not None and time.time() >= self.deadline:
            return Searcher.FINISHED
        return super().suggest(trial_id)

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        """Record a trial a Tune scheduler stopped as PRUNED: Ray's integration tells Optuna it
        COMPLETED with its partial value, which the dashboard and samplers then read as final."""
        trial = self._ot_trials.get(trial_id)
        if trial is not None and trial_id not in self._completed_trials:
            self._record(trial_id, trial, None if error else result)  # Tune sends the last epoch here only
        if (trial is not None and result and not error and not self.multi_objective
                and trial_id not in self._completed_trials and stopped_by_scheduler(result)):
            self._ot_study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # value: the last one reported
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)

    @property
    def multi_objective(self) -> bool:
        return isinstance(self.metric, list)


def finished_trial_count(storage_path: Path, study_name: str) -> int:
    """Trials of a persisted study that ended (complete, pruned or failed): a resumed search
    proposes only the rest of its ``num_samples``."""
    if not storage_path.exists():
        return 0
    try:
        study = optuna.load_study(study_name=study_name, storage=journal_storage(storage_path))
    except KeyError:  # no study of that name in the journal yet
        return 0
    running = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING
    return sum(trial.state not in running for trial in study.trials)


def build_searcher(search: SearchSpec, space: Callable[[Any], dict], *, study_name: str,
                   storage_path: Path, seed: int, deadline: Optional[float],
                   points_to_evaluate: Optional[list[dict[str, Any]]] = None,
                   identities: Optional[dict[str, dict[str, str]]] = None) -> OptunaSearch:
    metric = search.metric if not search.multi_objective else search.metrics
    mode = search.mode if not search.multi_objective else search.modes
    return BudgetedOptunaSearch(
        space=space, metric=metric, mode=mode, sampler=build_sampler(search.sampler, seed),
        study_name=study_name, storage=journal_storage(storage_path), deadline=deadline,
        points_to_evaluate=points_to_evaluate or None, identities=identities,
    )


Mutation = Union[tune.search.sample.Domain, list]


def tune_mutation(entry: dict[str, Any]) -> Mutation:
    """A spec's ``{loguniform: [a, b]}`` (uniform, choice) as what Ray's PBT resamples from."""
    kind, args = parse_distribution(entry, kinds=("loguniform", "uniform", "choice"))
    if kind == "choice":
        return list(args)
    return (tune.loguniform if kind == "loguniform" else tune.uniform)(*args)


class PopulationTraining(PopulationBasedTraining):
    """Synchronous PBT over a fixed population of (configuration, seed) members.

    Ray's PBT hands an exploiting trial the whole config of the member it copies. Ours copies
    only the mutated hyperparameters (weights come with the checkpoint), so each member keeps
    its run key, seed and MLflow run, and its runs show one member's lineage. The copied values
    are the ones the source last reported training with, which stay right after a ``--resume``.
    A member that has trained its last epoch is left alone: copying into it would only
    overwrite its result with another member's. Ray's PBT has no public hooks for any of this,
    so the overrides below use its scheduler state (``_trial_state``, ``_quantiles``, ...).
    """

    def __init__(self, choice: TrialSchedulerSpec, *, metric: str, mode: str, seed: int) -> None:
        self.paths = list(choice.mutations)
        nested: dict[str, Any] = {}
        for path, entry in choice.mutations.items():
            set_path(nested, path, tune_mutation(entry))
        super().__init__(
            time_attr="epoch", metric=metric, mode=mode, perturbation_interval=choice.perturbation_interval,
            hyperparam_mutations={PLAN_KEY: {"config": nested}}, quantile_fraction=choice.quantile_fraction,
            resample_probability=choice.resample_probability, synch=True,
        )
        self._departed: set[Trial] = set()
        self._random_state = random.Random(seed).getstate()

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        self._hold_departed()
        if result.get("epoch", 0) >= result.get("total_epochs", float("inf")) or result.get("stopped_early"):
            return TrialScheduler.CONTINUE
        return super().on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        self._leave(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        if not trial.should_recover():  # a retried member comes back to the barrier
            self._leave(tune_controller, trial)

    def _hold_departed(self) -> None:
        """Ray's synchronous PBT waits at each barrier for every trial Tune still counts as live,
        failed ones included, so a member that fails would keep the others paused for ever.
        Departed members are held at the barrier (they never delay it) and out of the ranking."""
        for member in self._departed:
            state = self._trial_state[member]
            state.last_train_time, state.last_score = self._next_perturbation_sync, None

    def _leave(self, tune_controller: Any, trial: Trial) -> None:
        """A member left the population: it failed, the recipe stopped it early, or it ended.
        If every member still training already waits at the barrier, perturb them now, as Ray
        does when the last one arrives."""
        self._departed.add(trial)
        self._hold_departed()
        waiting = [t for t in tune_controller.get_live_trials() if t not in self._departed]
        barrier = self._next_perturbation_sync
        if not waiting or any(self._trial_state[t].last_train_time < barrier for t in waiting):
            return
        lower, upper = self._quantiles()
        middle = [t for t in waiting if t not in lower and t not in upper]
        for member in upper + middle + lower:  # the best checkpoint before the worst copy it
            self._trial_state[member].last_perturbation_time = barrier
            self._checkpoint_or_exploit(member, tune_controller, upper, lower)
        latest = max(self._trial_state[t].last_train_time for t in waiting)
        self._next_perturbation_sync = max(barrier + self._perturbation_interval, latest)

    def _checkpoint_or_exploit(self, trial: Trial, *args: Any) -> None:
        """Ray draws which member to copy and how to perturb it from the global ``random``;
        drawing from a stream seeded by the recipe makes a population's choices repeatable."""
        outside = random.getstate()
        random.setstate(self._random_state)
        try:
            super()._checkpoint_or_exploit(trial, *args)
        finally:
            self._random_state = random.getstate()
            random.setstate(outside)

    def _get_new_config(self, trial: Trial, trial_to_clone: Trial) -> tuple[dict, dict]:
        source = copy.deepcopy(trial_to_clone.config)  # with the values the source trains with
        reported = self._trial_state[trial_to_clone].last_result or {}
        for path in self.paths:
            if PBT_MUTABLE[path] in reported:
                set_path(source[PLAN_KEY]["config"], path, reported[PBT_MUTABLE[path]])
        explored, operations = _explore(source, self._hyperparam_mutations, self._resample_probability,
                                        self._perturbation_factors, self._custom_explore_fn)
        own = copy.deepcopy(trial.config)
        for path in self.paths:
            set_path(own[PLAN_KEY]["config"], path, get_path(explored[PLAN_KEY]["config"], path))
        return own, operations


def build_scheduler(choice: Optional[TrialSchedulerSpec], *, epochs: int, metric: str, mode: str,
                    seed: int) -> Optional[tune.schedulers.TrialScheduler]:
    """The Tune scheduler named by the spec; ``epoch`` is the time axis so budgets read in epochs.

    The metric is given to the scheduler itself: with an Optuna searcher, which owns the
    objective, Tune refuses one in ``TuneConfig``.
    """
    if choice is None:
        return None
    if choice.name == "pbt":
        return PopulationTraining(choice, metric=metric, mode=mode, seed=seed)
    objective = {"time_attr": "epoch", "metric": metric, "mode": mode}
    if choice.name == "asha":
        return tune.schedulers.ASHAScheduler(
            **objective, max_t=epochs, grace_period=min(choice.grace_period, epochs),
            reduction_factor=choice.reduction_factor, brackets=choice.brackets,
        )
    if choice.name == "hyperband":
        return tune.schedulers.HyperBandScheduler(
            **objective, max_t=epochs, reduction_factor=choice.reduction_factor,
        )
    return tune.schedulers.MedianStoppingRule(
        **objective, grace_period=choice.grace_period, min_samples_required=choice.min_samples_required,
    )
