"""Population-based training (Jaderberg et al., 2017): every ``perturbation_interval`` epochs the
worst members go on from the weights of the best, with their learning rate or weight decay
perturbed. The population is a grid's configurations x ``repeats`` seeds."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from ..distributions import parse_distribution
from ..errors import OptionError
from .base import Scheduler, register_scheduler

if TYPE_CHECKING:
    from ..search_spec import SearchSpec, TrialSchedulerSpec
    from ..spec import SweepSpec

# What PBT may mutate: the recipe values a trainer can change mid-run without rebuilding (the
# optimizer's param groups and the LR schedule's bases are rescaled in place), each with the
# epoch metric that reports the value a trial trains with.
PBT_MUTABLE = {"train.optimizer.lr": "opt/base_lr", "train.optimizer.weight_decay": "opt/weight_decay"}


def all_positive(values: list[Any]) -> bool:
    """Numbers above 0: PBT rescales by the ratio to the current value, which 0 has not."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)


@register_scheduler
class Pbt(Scheduler):
    name = "pbt"

    def validate(self, choice: TrialSchedulerSpec) -> None:
        if not choice.mutations:
            raise OptionError("mutations", f"pbt needs mutations: {{path: {{loguniform: [a, b]}}}} "
                                           f"for some of {', '.join(PBT_MUTABLE)}")
        for path, entry in choice.mutations.items():
            if path not in PBT_MUTABLE:
                raise OptionError(f"mutations.{path}", f"pbt mutates only {', '.join(PBT_MUTABLE)}")
            try:
                kind, args = parse_distribution(entry, kinds=("loguniform", "uniform", "choice"))
            except ValueError as exc:
                raise OptionError(f"mutations.{path}", str(exc)) from None
            if not all_positive(args if kind == "choice" else args[:1]):
                raise OptionError(f"mutations.{path}", "pbt values must be numbers above 0")

    def validate_search(self, search: SearchSpec) -> None:
        """PBT evolves one population: members differ only in seed and the mutated values, so
        any member's checkpoint fits any other and exploiting one never swaps the architecture."""
        if search.kind != "grid":
            raise OptionError("scheduler", "pbt evolves a fixed population; use kind: grid "
                                           "(an Optuna searcher cannot follow mutated configs)")
        mutated = search.scheduler.mutations
        for path in search.factors:
            if path not in mutated:
                raise OptionError(f"factors.{path}", "with pbt, factors may only set the starting values "
                                                     f"of mutated keys ({', '.join(mutated)}); run one "
                                                     "sweep per other setting")
            if not all_positive(search.factors[path]):
                raise OptionError(f"factors.{path}", "pbt starting values must be numbers above 0")
        size = search.repeats * math.prod(len(levels) for levels in search.factors.values())
        if size < 2:
            raise OptionError("repeats", "pbt needs a population of at least 2 members "
                                         "(repeats x factor levels)")

    def validate_study(self, spec: SweepSpec) -> None:
        choice = spec.search.scheduler
        if choice.perturbation_interval >= spec.train.epochs:
            raise OptionError("search.scheduler.perturbation_interval",
                              f"pbt must perturb before the last epoch: use fewer than train.epochs ({spec.train.epochs})")
        if choice.perturbation_interval % spec.resources.checkpoint_every:
            raise OptionError("search.scheduler.perturbation_interval",
                              f"pbt exploits checkpoints: use a multiple of resources.checkpoint_every "
                              f"({spec.resources.checkpoint_every})")
        recipe = {"train.optimizer.lr": spec.train.optimizer.lr,
                  "train.optimizer.weight_decay": spec.train.optimizer.weight_decay}
        for path in choice.mutations:
            if path not in spec.search.factors and recipe[path] <= 0:
                raise OptionError(path, "pbt rescales this value, so it must start above 0")

    def build(self, choice: TrialSchedulerSpec, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from .population import PopulationTraining

        return PopulationTraining(choice, metric=metric, mode=mode, seed=seed)

    def describe(self, choice: TrialSchedulerSpec) -> str:
        mutated = ", ".join(f"{path} {json.dumps(entry)}" for path, entry in choice.mutations.items())
        return (f"pbt: every {choice.perturbation_interval} epochs the worst {choice.quantile_fraction:.0%} "
                f"of members go on from the weights of the best {choice.quantile_fraction:.0%}, "
                f"mutating {mutated}")

    def checkpoints_to_keep(self, spec: SweepSpec) -> int:
        """Enough that a member's checkpoint outlives the interval in which another may copy it."""
        return spec.search.scheduler.perturbation_interval // spec.resources.checkpoint_every + 2
