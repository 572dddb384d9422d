"""Population-based training (Jaderberg et al., 2017): every ``perturbation_interval`` epochs the
worst members go on from the weights of the best, with their learning rate or weight decay
perturbed. The population is a grid's configurations x ``repeats`` seeds."""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import Field, model_validator

from ..distributions import parse_distribution
from ..errors import OptionError
from ..spec.study import SchedulerOptions, SearchOptions, StudySpec
from ..tracking.names import BASE_LR, WEIGHT_DECAY
from .base import register_scheduler

# What PBT may mutate: the recipe values a trainer can change mid-run without rebuilding (the
# optimizer's param groups and the LR schedule's bases are rescaled in place), each with the
# epoch metric that reports the value a trial trains with.
PBT_MUTABLE = {"train.optimizer.lr": BASE_LR, "train.optimizer.weight_decay": WEIGHT_DECAY}


def all_positive(values: list[Any]) -> bool:
    """Numbers above 0: PBT rescales by the ratio to the current value, which 0 has not."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)


@register_scheduler
class Pbt(SchedulerOptions):
    name: Literal["pbt"] = "pbt"
    perturbation_interval: int = Field(2, ge=1, description="epochs between exploit/explore steps")
    quantile_fraction: float = Field(0.25, gt=0, le=0.5, description="share of the population that copies "
                                                                     "the best share")
    resample_probability: float = Field(0.25, ge=0, le=1, description="chance to resample a value instead "
                                                                       "of scaling it")
    mutations: dict[str, dict[str, Any]] = Field(default_factory=dict, description="{path: {loguniform: [a, b]}} "
                                                 "of the learning rate or weight decay")

    @model_validator(mode="after")
    def _mutations(self) -> Pbt:
        if not self.mutations:
            raise OptionError("mutations", f"pbt needs mutations: {{path: {{loguniform: [a, b]}}}} "
                                           f"for some of {', '.join(PBT_MUTABLE)}")
        for path, entry in self.mutations.items():
            if path not in PBT_MUTABLE:
                raise OptionError(f"mutations.{path}", f"pbt mutates only {', '.join(PBT_MUTABLE)}")
            try:
                kind, args = parse_distribution(entry, kinds=("loguniform", "uniform", "choice"))
            except ValueError as exc:
                raise OptionError(f"mutations.{path}", str(exc)) from None
            if not all_positive(args if kind == "choice" else args[:1]):
                raise OptionError(f"mutations.{path}", "pbt values must be numbers above 0")
        return self

    def validate_search(self, search: SearchOptions) -> None:
        """PBT evolves one population: members differ only in seed and the mutated values, so
        any member's checkpoint fits any other and exploiting one never swaps the architecture."""
        if search.kind != "grid":
            raise OptionError("scheduler", "pbt evolves a fixed population; use kind: grid "
                                           "(an Optuna searcher cannot follow mutated configs)")
        factors: dict[str, list[Any]] = getattr(search, "factors", {})
        for path in factors:
            if path not in self.mutations:
                raise OptionError(f"factors.{path}", "with pbt, factors may only set the starting values "
                                                     f"of mutated keys ({', '.join(self.mutations)}); run one "
                                                     "sweep per other setting")
            if not all_positive(factors[path]):
                raise OptionError(f"factors.{path}", "pbt starting values must be numbers above 0")
        size = search.repeats * math.prod(len(levels) for levels in factors.values())
        if size < 2:
            raise OptionError("repeats", "pbt needs a population of at least 2 members "
                                         "(repeats x factor levels)")

    def validate_study(self, spec: StudySpec) -> None:
        if self.perturbation_interval >= spec.train.epochs:
            raise OptionError("search.scheduler.perturbation_interval",
                              f"pbt must perturb before the last epoch: use fewer than train.epochs ({spec.train.epochs})")
        if self.perturbation_interval % spec.resources.checkpoint_every:
            raise OptionError("search.scheduler.perturbation_interval",
                              f"pbt exploits checkpoints: use a multiple of resources.checkpoint_every "
                              f"({spec.resources.checkpoint_every})")
        recipe = {"train.optimizer.lr": spec.train.optimizer.lr,
                  "train.optimizer.weight_decay": spec.train.optimizer.weight_decay}
        factors = getattr(spec.search, "factors", {})
        for path in self.mutations:
            if path not in factors and recipe[path] <= 0:
                raise OptionError(path, "pbt rescales this value, so it must start above 0")

    def build(self, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from .population import PopulationTraining  # imports Ray: only when a sweep builds it

        return PopulationTraining(self.mutations, reported_as={p: PBT_MUTABLE[p] for p in self.mutations},
                                  metric=metric, mode=mode, seed=seed,
                                  perturbation_interval=self.perturbation_interval,
                                  quantile_fraction=self.quantile_fraction,
                                  resample_probability=self.resample_probability)

    def describe(self) -> str:
        mutated = ", ".join(f"{path} {json.dumps(entry)}" for path, entry in self.mutations.items())
        return (f"pbt: every {self.perturbation_interval} epochs the worst {self.quantile_fraction:.0%} "
                f"of members go on from the weights of the best {self.quantile_fraction:.0%}, "
                f"mutating {mutated}")

    def checkpoints_to_keep(self, spec: StudySpec) -> int:
        """Enough that a member's checkpoint outlives the interval in which another may copy it."""
        return self.perturbation_interval // spec.resources.checkpoint_every + 2
