"""Hyperparameter importances of an Optuna study rebuilt from its MLflow runs: on a synthetic
objective that depends almost only on the learning rate, both evaluators must rank it first."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from report_store import BASE, Trial, log_study
from PIL import Image

from orchestrator.report.importance import EVALUATORS, rebuild_study, searched_axes, study_importances
from orchestrator.report.plots import SIZE_PIXELS, parallel_coordinates
from orchestrator.report.runs import load_runs
from orchestrator.tracking.names import SUMMARY_FINAL_TOP1
from orchestrator.report.study_report import write_report

LR, WD, ATTENTION, K_SIZE = ("train.optimizer.lr", "train.optimizer.weight_decay", "model.attention",
                             "model.attention_kwargs.k_size")
SPACE = {LR: {"loguniform": [1e-3, 0.3]}, WD: {"uniform": [0.0, 1e-3]}, ATTENTION: {"choice": [None, "se", "eca"]},
         K_SIZE: {"choice": [3, 5], "when": {ATTENTION: "eca"}}}
CONFIGS = 32


def synthetic(config: int) -> tuple[dict, float]:
    """Top-1 peaks at lr = 0.05 and barely moves with the other axes (known importance: lr)."""
    rng = np.random.default_rng(config)
    attention = [None, "se", "eca"][config % 3]
    factors = {LR: float(np.exp(rng.uniform(np.log(1e-3), np.log(0.3)))), WD: float(rng.uniform(0, 1e-3)),
               ATTENTION: attention}
    if attention == "eca":
        factors[K_SIZE] = [3, 5][config % 2]
    top1 = 70 - 8 * (np.log10(factors[LR]) + 1.3) ** 2 + 200 * factors[WD] + rng.normal(0, 0.05)
    return factors, float(top1)


def trial(config: int, seed: int = 0, offset: float = 0.0) -> Trial:
    factors, top1 = synthetic(config)
    return Trial(f"c{config}", factors, seed, top1 + offset)


def optuna_spec(name: str) -> dict:
    search = {"kind": "optuna", "space": SPACE, "num_samples": CONFIGS, "repeats": 3, "metric": "val/top1", "mode": "max"}
    return {"name": name, **copy.deepcopy(BASE), "search": search}


@pytest.fixture(scope="module")
def searched(store: str) -> str:
    # Configuration 0 confirmed with two more seeds: it must still count once.
    trials = [trial(config) for config in range(CONFIGS)] + [trial(0, 1, 0.2), trial(0, 2, -0.4)]
    log_study(store, optuna_spec("searched"), trials)
    return store


def test_axes_come_from_the_logged_search_space():
    axes = searched_axes(optuna_spec("x"))
    assert list(axes) == [LR, WD, ATTENTION, K_SIZE] and axes[LR].log and axes[ATTENTION].choices == (None, "se", "eca")


def test_one_trial_per_configuration_valued_by_its_mean_over_seeds(searched):
    study, outside = rebuild_study(load_runs("searched", uri=searched), searched_axes(optuna_spec("x")),
                                   objective=SUMMARY_FINAL_TOP1, mode="max")
    assert outside == 0 and len(study.trials) == CONFIGS
    first = next(t for t in study.trials if t.params[LR] == synthetic(0)[0][LR])
    assert first.value == pytest.approx(synthetic(0)[1] + (0.2 - 0.4) / 3)


def test_both_evaluators_rank_the_known_important_parameter_first(searched):
    table, _, notes = study_importances(load_runs("searched", uri=searched), optuna_spec("x"), objective=SUMMARY_FINAL_TOP1,
                                        mode="max")
    assert table["parameter"].iloc[0] == LR
    for name in EVALUATORS:
        assert table.set_index("parameter").loc[LR, f"{name}_rank"] == 1
        assert table[name].sum() == pytest.approx(1.0)
    assert notes == [f"importances leave out {K_SIZE}: not set in every configuration"]


def test_too_few_configurations_give_a_note_not_a_table(store):
    log_study(store, optuna_spec("tiny"), [trial(c) for c in range(3)])
    table, _, notes = study_importances(load_runs("tiny", uri=store), optuna_spec("tiny"), objective=SUMMARY_FINAL_TOP1, mode="max")
    assert table.empty and notes == ["no importances: 3 finished configurations, fewer than the 8 they need"]


def test_report_of_an_optuna_study_has_importances_and_parallel_coordinates(searched, tmp_path):
    report = write_report("searched", tmp_path, uri=searched, log=False)
    markdown = (tmp_path / "importance.md").read_text()
    assert "| parameter | fANOVA importance | fANOVA rank | PED-ANOVA importance | PED-ANOVA rank |" in markdown
    assert markdown.split("\n")[4].startswith(f"| {LR} |")
    with Image.open(tmp_path / "parallel_coordinates.png") as image:
        assert image.size == SIZE_PIXELS
    assert "no ablation tables: an optuna study has no fixed factors" in report.notes


def test_parallel_coordinates_puts_each_configuration_on_every_axis(searched):
    study, _ = rebuild_study(load_runs("searched", uri=searched), searched_axes(optuna_spec("x")),
                             objective=SUMMARY_FINAL_TOP1, mode="max")
    figure = parallel_coordinates(study, [LR, WD, ATTENTION], objective_label="validation top-1 (%)")
    axes = figure.axes[0]
    assert len(axes.lines) - 3 == CONFIGS  # one line per configuration, plus one vertical per axis
    assert all(0 <= y <= 1 for line in axes.lines for y in line.get_ydata())
    best = max(study.trials, key=lambda t: t.value)
    position = math.log(best.params[LR] / 1e-3) / math.log(0.3 / 1e-3)
    assert axes.lines[CONFIGS - 1].get_ydata()[0] == pytest.approx(position)  # the best is drawn last
    colour_bar = figure.axes[1]
    assert colour_bar.get_ylabel() == "validation top-1 (%)"  # the colour bar names the objective
    values = [t.value for t in study.trials]
    assert colour_bar.get_ylim() == pytest.approx((min(values), max(values)))  # colours span the values
