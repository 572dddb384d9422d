"""Each plugin owns its options: a design's, a trial scheduler's and a sampler's keys are their
own pydantic models joined as discriminated unions, so a key of another plugin is refused by
name, and the registries are the one list of names."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import get_args

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.designs import DESIGNS, SearchChoice
from orchestrator.designs.optuna.samplers import SAMPLERS, SamplerChoice
from orchestrator.errors import SpecError
from orchestrator.study import parse_spec
from orchestrator.trial_schedulers import SCHEDULERS, SchedulerChoice

OPTUNA = {"kind": "optuna", "space": {"train.optimizer.lr": {"loguniform": [0.01, 0.1]}}}


def refused(*overrides: str) -> str:
    """The dry run of the quickstart (an ablation) with ``overrides``: exit 2, one line, nothing written."""
    result = CliRunner().invoke(main, ["sweep", "quickstart.yaml", "--dry-run", *overrides])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not Path("mlflow.db").exists() and not Path("ray_results").exists()
    return result.output.strip()


def test_an_option_of_another_scheduler_is_refused_naming_the_key() -> None:
    line = refused("search.scheduler.name=asha", "search.scheduler.perturbation_interval=5",
                   "search.scheduler.quantile_fraction=0.5")
    assert line.startswith("error: search.scheduler.perturbation_interval: not an option of scheduler asha "
                           "(an option of scheduler: pbt; allowed: name, grace_period, reduction_factor, brackets)")


@pytest.mark.parametrize("override", ["search.sampler=cmaes", "search.num_samples=64"])
def test_a_sampler_or_num_samples_on_a_design_without_optuna_is_refused(override: str) -> None:
    key = override.split("=")[0]
    assert refused(override).startswith(f"error: {key}: not an option of kind ablation (an option of kind: optuna;")


def test_an_unknown_design_option_is_refused_with_the_designs_own_keys() -> None:
    assert refused("search.replicates=3") == (
        "error: search.replicates: not an option of kind ablation (allowed: kind, repeats, scheduler, metric, mode, "
        "time_budget, fail_fast, factors, design, baseline, settle)")


def test_a_sampler_takes_its_own_options_and_refuses_another_samplers() -> None:
    spec = parse_spec({"name": "s", "search": {**OPTUNA, "sampler": {"name": "tpe", "n_startup_trials": 3}}})
    assert spec.search.sampler.build(seed=0)._n_startup_trials == 3
    with pytest.raises(SpecError, match=r"^search\.sampler\.population_size: not an option of sampler tpe "
                                        r"\(an option of sampler: nsga2;"):
        parse_spec({"name": "s", "search": {**OPTUNA, "sampler": {"name": "tpe", "population_size": 4}}})
    with pytest.raises(SpecError, match=r"^search\.sampler\.name: unknown name 'tpee'; did you mean tpe\?"):
        parse_spec({"name": "s", "search": {**OPTUNA, "sampler": "tpee"}})


def test_a_sampler_named_alone_is_recorded_as_written() -> None:
    """The parent run's spec.json, which --resume compares, keeps ``sampler: tpe``."""
    assert parse_spec({"name": "s", "search": OPTUNA}).model_dump(mode="json")["search"]["sampler"] == "tpe"
    dumped = parse_spec({"name": "s", "search": {**OPTUNA, "sampler": {"name": "qmc", "qmc_type": "halton"}}})
    assert dumped.model_dump(mode="json")["search"]["sampler"] == {"name": "qmc", "qmc_type": "halton"}


@pytest.mark.parametrize(("union", "registry", "tag"), [
    (SearchChoice, {name: design.options for name, design in DESIGNS.items()}, "kind"),
    (SchedulerChoice, SCHEDULERS, "name"),
    (SamplerChoice, SAMPLERS, "name"),
])
def test_each_union_is_built_from_its_registry(union, registry, tag) -> None:
    members = get_args(get_args(union)[0])
    assert {m.model_fields[tag].default: m for m in members} == registry


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_validates_describes_and_builds(name: str) -> None:
    options = {"mutations": {"train.optimizer.lr": {"loguniform": [0.01, 0.1]}}} if name == "pbt" else {}
    spec = parse_spec({"name": "s", "train": {"epochs": 4},
                       "search": {"kind": "grid", "repeats": 2, "scheduler": {"name": name, **options}}})
    assert spec.search.scheduler.describe().startswith(name)
    assert spec.search.scheduler.build(epochs=4, metric="val/top1", mode="max", seed=0) is not None


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_builds_an_optuna_sampler(name: str) -> None:
    import optuna

    spec = parse_spec({"name": "s", "search": {**OPTUNA, "sampler": name}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert isinstance(spec.search.sampler.build(seed=0), optuna.samplers.BaseSampler)
    assert [str(w.message) for w in caught] == []  # Optuna's notes to programmers stay out of a sweep's output


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_survives_the_pickling_ray_tune_does_of_its_searcher(name: str) -> None:
    """Tune pickles the searcher, sampler included, into the experiment's state (Optuna 5.1's
    NSGA-II holds a lock that pickle refuses); the copy still samples."""
    import pickle

    import optuna

    sampler = pickle.loads(pickle.dumps(parse_spec({"name": "s", "search": {**OPTUNA, "sampler": name}}).search
                                        .sampler.build(seed=0)))
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.trials) == 2
