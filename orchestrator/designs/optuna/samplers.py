"""Optuna samplers, each its own options model registered by name (``search.sampler``).

``sampler: tpe`` names one with its defaults; ``sampler: {name: tpe, n_startup_trials: 5}`` sets
its options. :data:`SamplerChoice` is the discriminated union of the registered samplers, so an
option of another sampler is refused by name.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, ClassVar, Literal, Optional

import optuna

from pydantic import Field

from ...schema import PluginRegistry, StrictModel

DEFAULT_SAMPLER = "tpe"


class SamplerOptions(StrictModel):
    """An Optuna sampler: a literal ``name`` and the options of its constructor."""

    name: str
    single_objective: ClassVar[bool] = False  # whether it optimises one metric only

    def build(self, seed: int) -> Any:
        raise NotImplementedError

    def as_written(self) -> Any:
        """Its name alone when every option is the default, as a spec writes it."""
        return self.name if self == type(self)(name=self.name) else self.model_dump(mode="json")


SAMPLERS = PluginRegistry("sampler")
register_sampler = SAMPLERS.register


@register_sampler
class Tpe(SamplerOptions):
    name: Literal["tpe"] = "tpe"
    n_startup_trials: int = Field(10, ge=0, description="random proposals before the model is used")
    multivariate: bool = Field(False, description="model the axes jointly instead of one by one")

    def build(self, seed: int) -> Any:
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials,
                                          multivariate=self.multivariate)


@register_sampler
class Random(SamplerOptions):
    name: Literal["random"] = "random"

    def build(self, seed: int) -> Any:
        return optuna.samplers.RandomSampler(seed=seed)


@register_sampler
class CmaEs(SamplerOptions):
    name: Literal["cmaes"] = "cmaes"
    single_objective = True  # Optuna's CMA-ES optimizes one objective only
    n_startup_trials: int = Field(1, ge=0, description="independent proposals before CMA-ES starts")
    sigma0: Optional[float] = Field(None, gt=0, description="initial step size; default: a sixth of each range")

    def build(self, seed: int) -> Any:
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=self.n_startup_trials, sigma0=self.sigma0)


@register_sampler
class Gp(SamplerOptions):
    name: Literal["gp"] = "gp"
    n_startup_trials: int = Field(10, ge=0, description="random proposals before the Gaussian process is fitted")

    def build(self, seed: int) -> Any:
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=self.n_startup_trials)


@register_sampler
class Qmc(SamplerOptions):
    name: Literal["qmc"] = "qmc"
    qmc_type: Literal["sobol", "halton"] = "sobol"

    def build(self, seed: int) -> Any:
        # Optuna warns that QMCSampler's interface may change: a note for code that calls it,
        # printed among a sweep's progress lines to a researcher who only named it in a spec.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=seed, qmc_type=self.qmc_type)


class PicklableNSGAIISampler(optuna.samplers.NSGAIISampler):
    """Optuna's NSGA-II sampler, picklable again: since Optuna 5.1 its genetic-algorithm base keeps
    a ``threading.Lock``, and Ray Tune pickles the searcher (and with it the sampler) into the
    experiment's state, which fails on a lock. The lock is left out and made anew when loaded."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_thread_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._thread_lock = threading.Lock()


@register_sampler
class Nsga2(SamplerOptions):
    name: Literal["nsga2"] = "nsga2"
    population_size: int = Field(50, ge=2, description="proposals per generation")

    def build(self, seed: int) -> Any:
        return PicklableNSGAIISampler(seed=seed, population_size=self.population_size)


SamplerChoice = SAMPLERS.choice(DEFAULT_SAMPLER)
