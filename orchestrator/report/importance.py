"""Which knobs mattered in an Optuna study: hyperparameter importances from its trial runs.

The sweep's own Optuna study lives in the driver (or a journal file) and may be gone; the runs in
MLflow are what lasts. So the study is rebuilt in memory: the searched axes come from the
``search.space`` (and ``search.grid``) of the spec the latest sweep logged, each configuration
becomes one completed trial whose params are its factors and whose value is its objective
averaged over its finished seeds (a confirmed configuration counts once, not once per seed).
Optuna's evaluators then do what they do: fANOVA (a random forest's variance decomposition) and
PED-ANOVA (how much each axis's distribution among the top trials differs from all trials).
Two evaluators, because one ranking from one model is an opinion; when they agree, trust it more.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any, Callable

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution

from ..distributions import optuna_distribution
from ..optuna_quiet import quiet_study_creation
from .runs import StudyRuns

if TYPE_CHECKING:
    from optuna.importance import BaseImportanceEvaluator

# Fewer configurations than this and a random forest or a top-10% quantile has nothing to say.
MIN_CONFIGURATIONS = 8


# optuna.importance is imported where an evaluator is made, not above: it brings scikit-learn
# (0.2 s), and every sweep's driver imports this module for EVALUATOR_NAMES (its closing note).
def _fanova() -> BaseImportanceEvaluator:
    from optuna.importance import FanovaImportanceEvaluator

    return FanovaImportanceEvaluator(seed=0)  # seeded: the same report twice is the same


def _ped_anova() -> BaseImportanceEvaluator:
    from optuna.importance import PedAnovaImportanceEvaluator

    return PedAnovaImportanceEvaluator()


EVALUATORS: dict[str, Callable[[], BaseImportanceEvaluator]] = {"fanova": _fanova, "ped_anova": _ped_anova}
EVALUATOR_NAMES = {"fanova": "fANOVA", "ped_anova": "PED-ANOVA"}


def searched_axes(spec: dict[str, Any]) -> dict[str, BaseDistribution]:
    """The distributions of the axes an Optuna study searched: its space, and grid axes with
    more than one value (categorical), read from the logged spec."""
    search = spec.get("search") or {}
    grid = {path: CategoricalDistribution(values) for path, values in (search.get("grid") or {}).items()
            if isinstance(values, list) and len(values) > 1}
    space = {path: optuna_distribution(entry) for path, entry in (search.get("space") or {}).items()}
    return grid | space


def rebuild_study(runs: StudyRuns, axes: dict[str, BaseDistribution], *, objective: str,
                  mode: str) -> tuple[optuna.Study, int]:
    """An in-memory study of one completed trial per configuration, and how many configurations
    were left out because a value lies outside today's space (the spec was edited between sweeps)."""
    finished = runs.finished.dropna(subset=[objective])
    per_config = finished.groupby("config_key", sort=False).agg(factors=("factors", "first"),
                                                                 value=(objective, "mean"))
    with quiet_study_creation():
        study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    outside = 0
    for factors, value in zip(per_config["factors"], per_config["value"]):
        params = {path: v for path, v in json.loads(factors or "{}").items() if path in axes}
        try:
            trial = optuna.trial.create_trial(params=params, distributions={p: axes[p] for p in params},
                                              value=float(value))
        except ValueError:
            outside += 1
            continue
        study.add_trial(trial)
    return study, outside


def importances(study: optuna.Study) -> pd.DataFrame:
    """One row per axis every trial has (a conditional axis is left out: the evaluators need
    every trial to have it, and would otherwise disagree on which axes they rank): each
    evaluator's normalised importance and rank, the most important first by fANOVA."""
    from optuna.importance import get_param_importances

    common = sorted(set.intersection(*(set(t.params) for t in study.trials)))
    columns = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # PED-ANOVA's tag
        for name, make in EVALUATORS.items():
            found = get_param_importances(study, evaluator=make(), params=common)
            columns[name] = pd.Series(found, dtype=float)
    table = pd.DataFrame(columns).rename_axis("parameter")
    for name in EVALUATORS:
        table[f"{name}_rank"] = table[name].rank(ascending=False, method="min").astype(int)
    first = next(iter(EVALUATORS))
    return table.sort_values(first, ascending=False).reset_index()


def study_importances(runs: StudyRuns, spec: dict[str, Any], *, objective: str,
                      mode: str) -> tuple[pd.DataFrame, optuna.Study, list[str]]:
    """Importances of a study's searched axes, the rebuilt study (for plots) and notes on what
    was left out; an empty table when there are too few configurations."""
    axes = searched_axes(spec)
    study, outside = rebuild_study(runs, axes, objective=objective, mode=mode)
    notes = [f"importances: {outside} configurations lie outside the logged search space, left out"] if outside else []
    if len(study.trials) < MIN_CONFIGURATIONS:
        notes.append(f"no importances: {len(study.trials)} finished configurations, "
                     f"fewer than the {MIN_CONFIGURATIONS} they need")
        return pd.DataFrame(), study, notes
    table = importances(study)
    conditional = sorted(set(axes) - set(table["parameter"]))
    if conditional:
        notes.append(f"importances leave out {', '.join(conditional)}: not set in every configuration")
    return table, study, notes
