"""Ray Tune's side of an Optuna search: the searcher (proposals become whole plans on the
driver), the study's journal storage, the time budget."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional, Union

import optuna
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from ...optuna_quiet import quiet_study_creation
from ...spec.plans import PLAN_KEY
from ...spec.study import StudySpec
from ...tracking.names import FAILURE_KEY, stopped_by_scheduler
from .journal import journal_storage
from .space import plan_from_suggestion


class BudgetedOptunaSearch(OptunaSearch):
    """Ray's ``OptunaSearch`` whose proposals are whole trial plans, made and validated here on
    the driver (a trial only reads its plan), and that stops proposing once the sweep's time
    budget is spent.

    Tune's own ``time_budget_s`` kills the running trials; a budget here only stops launching,
    so every started trial ends cleanly.
    """

    def __init__(self, *args: Any, spec: StudySpec, deadline: Optional[float] = None,
                 identities: Optional[Mapping[str, dict[str, str]]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.deadline = deadline
        self.last_results: dict[str, dict] = {}  # trial id -> its last reported result
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
        suggestion = super().suggest(trial_id)
        if not isinstance(suggestion, dict):
            return suggestion  # None (wait) or FINISHED
        return {PLAN_KEY: plan_from_suggestion(self.spec, suggestion).to_dict()}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Report the objective at its epoch (Ray's integration uses Tune's iteration count,
        which restarts after a resume), once per epoch, so the dashboard draws learning curves."""
        self.last_results[trial_id] = result
        trial = self._ot_trials.get(trial_id)
        if trial is not None and trial_id not in self._completed_trials:
            self._record(trial_id, trial, result)

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        """Record a trial a Tune scheduler stopped as PRUNED: Ray's integration tells Optuna it
        COMPLETED with its partial value, which the dashboard and samplers then read as final.

        Tune ends a paused trial (HyperBand at the end of its bracket) without a result, which
        Ray's integration records as PRUNED even when it trained every epoch: its last reported
        result stands in, so the study agrees with the trial's MLflow run."""
        result = result or self.last_results.get(trial_id)
        self.last_results.pop(trial_id, None)
        trial = self._ot_trials.get(trial_id)
        error = error or FAILURE_KEY in (result or {})  # a scheduler stopped it on its failure report
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


def build_searcher(spec: StudySpec, space: Callable[[Any], dict], *, study_name: str, storage_path: Path,
                   deadline: Optional[float], points_to_evaluate: Optional[list[dict[str, Any]]] = None,
                   identities: Optional[Mapping[str, dict[str, str]]] = None) -> OptunaSearch:
    search = spec.search
    metric = search.metric if not search.multi_objective else search.metrics
    mode = search.mode if not search.multi_objective else search.modes
    with quiet_study_creation():  # Ray's OptunaSearch makes the study here, given a space
        return BudgetedOptunaSearch(
            space=space, metric=metric, mode=mode, sampler=search.sampler.build(spec.train.seed),
            study_name=study_name, storage=journal_storage(storage_path), spec=spec, deadline=deadline,
            points_to_evaluate=points_to_evaluate or None, identities=identities,
        )
