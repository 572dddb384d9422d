"""Population-based training on Ray's PBT, synchronous, keeping each member's run.

Ray's ``PopulationBasedTraining`` has no public hooks for what a study needs (members that keep
their identity, repeatable choices, members that leave), so the overrides below use its
scheduler state (``_trial_state``, ``_quantiles``, ...).
"""

from __future__ import annotations

import copy
import random
from typing import Any, Union

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining
from ray.tune.schedulers.pbt import _explore  # Ray's explore step, which _get_new_config wraps

from ..distributions import parse_distribution
from ..spec.plans import PLAN_KEY, get_path, set_path

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

    def __init__(self, mutations: dict[str, dict[str, Any]], *, reported_as: dict[str, str], metric: str,
                 mode: str, seed: int, perturbation_interval: int, quantile_fraction: float,
                 resample_probability: float) -> None:
        self.paths = list(mutations)
        self.reported_as = reported_as  # mutated path -> the epoch metric reporting the value trained with
        nested: dict[str, Any] = {}
        for path, entry in mutations.items():
            set_path(nested, path, tune_mutation(entry))
        super().__init__(
            time_attr="epoch", metric=metric, mode=mode, perturbation_interval=perturbation_interval,
            hyperparam_mutations={PLAN_KEY: {"config": nested}}, quantile_fraction=quantile_fraction,
            resample_probability=resample_probability, synch=True,
        )
        self._departed: set[Trial] = set()
        self._random_state = random.Random(seed).getstate()

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        self._hold_departed()  # a member's final epoch never gets here: Tune stops it (trial.stop_when_trained_out)
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
            if self.reported_as[path] in reported:
                set_path(source[PLAN_KEY]["config"], path, reported[self.reported_as[path]])
        explored, operations = _explore(source, self._hyperparam_mutations, self._resample_probability,
                                        self._perturbation_factors, self._custom_explore_fn)
        own = copy.deepcopy(trial.config)
        for path in self.paths:
            set_path(own[PLAN_KEY]["config"], path, get_path(explored[PLAN_KEY]["config"], path))
        return own, operations
