"""Every number of ablation tables against values computed here with numpy and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from report_store import (ATTENTION, K_SIZE, OAT_VALUES, Trial, log_study, logit_interval, make_spec,
                      make_variants_spec, oat_trial)
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from orchestrator.errors import OrchestrateError
from orchestrator.report import ablation_table, ablation_tables

LR = "train.optimizer.lr"


def finished(label: str) -> dict[int, float]:
    return {s: t.top1 for s in range(3) if (t := oat_trial(label, s)).outcome == "finished"}


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """Δ, CI and p of a paired t-test, from the differences."""
    d = a - b
    se = d.std(ddof=1) / math.sqrt(len(d))
    half = stats.t.ppf(0.975, len(d) - 1) * se
    return d.mean(), d.mean() - half, d.mean() + half, 2 * stats.t.sf(abs(d.mean() / se), len(d) - 1)


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """Δ, CI and p of Welch's test, with the Welch-Satterthwaite degrees of freedom."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se, delta = math.sqrt(va + vb), a.mean() - b.mean()
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, df) * se
    return delta, delta - half, delta + half, 2 * stats.t.sf(abs(delta / se), df)


def holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=p.__getitem__)
    adjusted, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def assert_comparison(row, expected, suffix=""):
    delta, low, high, p = expected
    assert row[f"delta{suffix}"] == pytest.approx(delta)
    assert row[f"delta_ci_low{suffix}"] == pytest.approx(low)
    assert row[f"delta_ci_high{suffix}"] == pytest.approx(high)
    assert row[f"p_value{suffix}"] == pytest.approx(p)


def test_one_at_a_time_table_every_number(oat):
    table = ablation_table("oat", K_SIZE, uri=oat).set_index("level")
    assert list(table.index) == ["baseline", "3", "5", "7"]
    base = np.array(list(finished("baseline").values()))
    for level, label in (("baseline", "baseline"), ("3", "k_size=3"), ("5", "k_size=5"), ("7", "k_size=7")):
        x = np.array(list(finished(label).values()))
        row = table.loc[level]
        assert (row["n"], row["mean"], row["std"]) == (len(x), pytest.approx(x.mean()), pytest.approx(x.std(ddof=1)))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(logit_interval(x))
        assert row["ci_informative"] == (len(x) >= 3) and row["basis"] == "val split, final epoch"
    # k=3 has every seed the baseline has: paired. k=5 lost a seed to pruning, k=7 to a failure: Welch.
    expected = {"3": paired(np.array([72.0, 73.1, 72.4]), base),
                "5": welch(np.array([71.0, 72.5]), base), "7": welch(np.array([70.5, 71.9]), base)}
    assert table["test"].tolist() == ["", "paired", "welch", "welch"]
    for level, numbers in expected.items():
        assert_comparison(table.loc[level], numbers)
    holm = holm_by_hand([expected[level][3] for level in ("3", "5", "7")])
    assert table.loc[["3", "5", "7"], "p_holm"].tolist() == pytest.approx(holm)
    assert table.loc["baseline", "reference"] and math.isnan(table.loc["baseline", "delta"])
    assert table.loc["5", "n_pruned"] == 1 and table.loc["7", "n_failed"] == 1


def test_the_only_factor_needs_no_name_and_all_tables_come_at_once(oat):
    assert ablation_table("oat", uri=oat).equals(ablation_table("oat", K_SIZE, uri=oat))
    assert list(ablation_tables("oat", uri=oat)) == [K_SIZE]


def test_unknown_factor_names_the_factors(oat):
    with pytest.raises(OrchestrateError, match=f"no factor 'model.depth'; its factors: {K_SIZE}"):
        ablation_table("oat", "model.depth", uri=oat)


# A cumulative design: attention on, then k=5, then no augmentation; step 3 lost seed 2.
STEPS = [
    ("baseline", {ATTENTION: None}, [70.1, 71.3, 69.8]),
    ("step1", {ATTENTION: "eca"}, [71.9, 72.8, 71.7]),
    ("step2", {ATTENTION: "eca", K_SIZE: 5}, [72.5, 73.6, 72.6]),
    ("step3", {ATTENTION: "eca", K_SIZE: 5, "data.augment": "none"}, [69.0, 70.2, None]),
]


@pytest.fixture(scope="module")
def cumulative(store: str) -> str:
    spec = make_spec("cumulative", design="cumulative", baseline={ATTENTION: None},
                     factors={ATTENTION: ["eca"], K_SIZE: [5], "data.augment": ["none"]})
    trials = [Trial(label, factors, seed, value if value is not None else 0.0,
                    outcome="finished" if value is not None else "failed")
              for label, factors, values in STEPS for seed, value in enumerate(values)]
    log_study(store, spec, trials[::-1])  # logged out of order: the table follows the spec
    return store


def test_cumulative_steps_against_baseline_and_previous_step(cumulative):
    table = ablation_table("cumulative", uri=cumulative)
    assert table["level"].tolist() == ["baseline", "+attention=eca", "+k_size=5", "+augment=none"]
    base, s1, s2, s3 = (np.array([v for v in values if v is not None]) for _, _, values in STEPS)
    vs_base = [paired(s1, base), paired(s2, base), welch(s3, base)]
    vs_prev = [None, paired(s2, s1), welch(s3, s2)]
    for index in (1, 2, 3):
        assert_comparison(table.iloc[index], vs_base[index - 1])
    # Step 1's previous step is the baseline: that comparison is shown (and counted) once.
    assert math.isnan(table.iloc[1]["delta_prev"]) and table.iloc[1]["test_prev"] == ""
    assert_comparison(table.iloc[2], vs_prev[1], "_prev")
    assert_comparison(table.iloc[3], vs_prev[2], "_prev")
    family = [c[3] for c in vs_base] + [vs_prev[1][3], vs_prev[2][3]]
    holm = holm_by_hand(family)
    assert table["p_holm"].iloc[1:].tolist() == pytest.approx(holm[:3])
    assert table["p_holm_prev"].iloc[2:].tolist() == pytest.approx(holm[3:])


def test_a_cumulative_study_has_one_table(cumulative):
    assert list(ablation_tables("cumulative", uri=cumulative)) == ["cumulative"]


def test_without_search_baseline_the_base_config_cell_is_still_the_reference(store):
    """An ablation runs its baseline cell (the base config) when ``search.baseline`` is left
    out, as seed 000's cumulative chain does: the tables compare with it. A level equal to the
    base config is that same cell (one run per configuration and seed), not an empty row."""
    base, k5, plain = [70.1, 71.3, 69.8], [71.9, 72.8, 71.7], [72.5, 73.6, 72.6]
    chain = make_spec("chain_no_baseline", design="cumulative", factors={K_SIZE: [5], "data.augment": ["none"]})
    log_study(store, chain, [Trial(label, factors, seed, values[seed]) for label, factors, values in (
        ("baseline", {}, base), ("+k_size=5", {K_SIZE: 5}, k5),
        ("+augment=none", {K_SIZE: 5, "data.augment": "none"}, plain)) for seed in range(3)])
    table = ablation_table("chain_no_baseline", uri=store)
    assert table["level"].tolist() == ["baseline", "+k_size=5", "+augment=none"]
    assert table["reference"].tolist() == [True, False, False]
    assert_comparison(table.iloc[1], paired(np.array(k5), np.array(base)))
    assert_comparison(table.iloc[2], paired(np.array(plain), np.array(base)))
    assert_comparison(table.iloc[2], paired(np.array(plain), np.array(k5)), "_prev")

    oat = make_spec("oat_no_baseline", factors={K_SIZE: [3, 5]})  # the base config has k_size 3
    log_study(store, oat, [Trial(label, factors, seed, values[seed]) for label, factors, values in (
        ("baseline", {}, base), ("k_size=5", {K_SIZE: 5}, k5)) for seed in range(3)])
    table = ablation_table("oat_no_baseline", uri=store)
    assert table["level"].tolist() == ["baseline", "5"] and table["reference"].tolist() == [True, False]
    assert_comparison(table.iloc[1], paired(np.array(k5), np.array(base)))


# A 2x2 grid over two seeds; (se, lr=0.05, seed 1) failed.
GRID = {("eca", 0.1): [72.0, 72.6], ("eca", 0.05): [71.2, 71.5],
        ("se", 0.1): [71.1, 71.9], ("se", 0.05): [70.4, None]}


@pytest.fixture(scope="module")
def grid(store: str) -> str:
    spec = make_spec("grid", kind="grid", factors={ATTENTION: ["eca", "se"], LR: [0.1, 0.05]}, repeats=2)
    trials = [Trial(f"attention={a},lr={lr}", {ATTENTION: a, LR: lr}, seed, v or 0.0,
                    outcome="finished" if v is not None else "failed")
              for (a, lr), values in GRID.items() for seed, v in enumerate(values)]
    log_study(store, spec, trials)
    return store


def test_factorial_main_effect_pairs_cells_on_other_factors_and_seed(grid):
    table = ablation_table("grid", ATTENTION, uri=grid).set_index("level")
    # The base config has attention=eca: that level is the reference.
    assert table["reference"].tolist() == [True, False]
    eca = np.array(GRID[("eca", 0.1)] + GRID[("eca", 0.05)])
    se = np.array(GRID[("se", 0.1)] + [GRID[("se", 0.05)][0]])
    assert table.loc["se", "n"] == 3 and table.loc["se", "n_failed"] == 1
    assert table.loc["se", "mean"] == pytest.approx(se.mean())
    assert table.loc["se", "test"] == "welch"  # (lr=0.05, seed 1) exists on one side only
    assert_comparison(table.loc["se"], welch(se, eca))


def test_factorial_reference_without_a_base_value_is_the_first_level(grid):
    table = ablation_table("grid", LR, uri=grid).set_index("level")
    # No base value for the learning rate: the first level is the reference. Pairs are
    # (attention, seed); (se, seed 1) is missing at lr=0.05, so this one is Welch too.
    assert table.loc["0.1", "reference"] and table.loc["0.05", "test"] == "welch"
    top5 = ablation_table("grid", LR, uri=grid, metric="summary/top5_at_best")
    assert top5.attrs["metric"] == "summary/top5_at_best" and top5["mean"].notna().all()


# A variants study: each row a name and its own changes; lr_0.05 lost seed 1 to a failure.
VARIANT_RUNS = {"eca_k5": ({K_SIZE: 5}, [72.0, 73.1, 72.4]), "no_attention": ({ATTENTION: None}, [70.1, 71.3, 69.8]),
                "lr_0.05": ({LR: 0.05}, [71.0, None, 71.9])}


def log_variants(store: str, name: str, *, reference=None) -> None:
    variants = {label: factors for label, (factors, _) in VARIANT_RUNS.items()}
    trials = [Trial(label, factors, seed, value or 0.0, outcome="finished" if value is not None else "failed")
              for label, (factors, values) in VARIANT_RUNS.items() for seed, value in enumerate(values)]
    log_study(store, make_variants_spec(name, variants, reference=reference), trials[::-1])


def test_variants_table_compares_every_variant_with_the_reference(store):
    log_variants(store, "variants", reference="no_attention")
    assert list(ablation_tables("variants", uri=store)) == ["variants"]
    table = ablation_table("variants", uri=store)
    assert table["level"].tolist() == ["no_attention", "eca_k5", "lr_0.05"]  # the reference first
    assert table["reference"].tolist() == [True, False, False]
    reference, eca = np.array([70.1, 71.3, 69.8]), np.array([72.0, 73.1, 72.4])
    lr = np.array([71.0, 71.9])
    assert (table["n"].tolist(), table.iloc[2]["n_failed"]) == ([3, 3, 2], 1)
    assert table["mean"].tolist() == pytest.approx([reference.mean(), eca.mean(), lr.mean()])
    assert (table.iloc[1]["ci_low"], table.iloc[1]["ci_high"]) == pytest.approx(logit_interval(eca))
    # Same seeds on both arms: paired; the failed seed leaves lr_0.05 unpaired: Welch.
    assert table["test"].tolist() == ["", "paired", "welch"]
    expected = [paired(eca, reference), welch(lr, reference)]
    for row, numbers in zip((1, 2), expected):
        assert_comparison(table.iloc[row], numbers)
    assert table["p_holm"].iloc[1:].tolist() == pytest.approx(holm_by_hand([e[3] for e in expected]))
    assert math.isnan(table.iloc[0]["delta"]) and table.attrs["design"] == "variants"


def test_without_a_reference_the_first_variant_is_compared_with(store):
    log_variants(store, "variants_unreferenced")
    table = ablation_table("variants_unreferenced", uri=store)
    assert table["level"].tolist() == ["eca_k5", "no_attention", "lr_0.05"]
    assert table["reference"].tolist() == [True, False, False]
    assert_comparison(table.iloc[1], paired(np.array([70.1, 71.3, 69.8]), np.array([72.0, 73.1, 72.4])))


def test_optuna_studies_have_no_ablation_tables(store):
    spec = make_spec("hpo", kind="optuna", factors={})
    log_study(store, spec, [Trial("lr=0.1", {LR: 0.1}, 0, 70.0)])
    with pytest.raises(OrchestrateError, match="optuna search: no ablation tables"):
        ablation_tables("hpo", uri=store)


def test_paired_factorial_when_no_cell_is_missing(store):
    spec = make_spec("grid_full", kind="grid", factors={ATTENTION: ["eca", "se"], LR: [0.1, 0.05]}, repeats=2)
    values = {key: [v[0], v[0] + 0.3 if v[1] is None else v[1]] for key, v in GRID.items()}
    log_study(store, spec, [Trial("cell", {ATTENTION: a, LR: lr}, seed, v)
                            for (a, lr), pair in values.items() for seed, v in enumerate(pair)])
    table = ablation_table("grid_full", ATTENTION, uri=store).set_index("level")
    # Pairs matched on (lr, seed): eca and se in the same order.
    eca = np.array(values[("eca", 0.1)] + values[("eca", 0.05)])
    se = np.array(values[("se", 0.1)] + values[("se", 0.05)])
    assert table.loc["se", "test"] == "paired"
    assert_comparison(table.loc["se"], paired(se, eca))


def statsmodels_seeds(effect: float, sd: float, alpha: float = 0.05) -> int:
    solved = TTestPower().solve_power(effect_size=abs(effect) / sd, alpha=alpha, power=0.8, alternative="two-sided")
    return max(2, math.ceil(solved))


def test_each_comparison_says_how_many_seeds_would_detect_it(oat):
    table = ablation_table("oat", K_SIZE, uri=oat, min_effect=0.5).set_index("level")
    base = np.array(list(finished("baseline").values()))
    k3 = np.array([72.0, 73.1, 72.4])
    sd = (k3 - base).std(ddof=1)  # paired: the spread of the seed-by-seed differences
    assert table.loc["3", "sd_diff"] == pytest.approx(sd)
    assert table.loc["3", "seeds_needed"] == statsmodels_seeds((k3 - base).mean(), sd)
    assert table.loc["3", "seeds_needed_min_effect"] == statsmodels_seeds(0.5, sd)
    k5 = np.array([71.0, 72.5])  # Welch: a difference of two independent seeds
    sd5 = math.sqrt(k5.var(ddof=1) + base.var(ddof=1))
    assert table.loc["5", "seeds_needed_min_effect"] == statsmodels_seeds(0.5, sd5)
    assert table.loc["5", "delta_n"] == 2 and not table.loc["5", "delta_ci_informative"]
    assert table.loc["3", "delta_ci_informative"]
    assert math.isnan(table.loc["baseline", "seeds_needed"])


def test_alpha_of_the_power_figure_is_the_tables(oat):
    loose = ablation_table("oat", K_SIZE, uri=oat, min_effect=0.5, confidence=0.8).set_index("level")
    sd = loose.loc["3", "sd_diff"]
    assert loose.loc["3", "seeds_needed_min_effect"] == statsmodels_seeds(0.5, sd, alpha=0.2)
    assert ablation_table("oat", K_SIZE, uri=oat)["seeds_needed_min_effect"].isna().all()  # none named


def test_a_level_equal_to_the_reference_on_every_seed_stays_in_the_holm_family(store) -> None:
    """k=5 reached exactly the baseline's numbers (deterministic runs, a saturated split): t is
    0/0, but the comparison was made, so Holm counts it (p = 1) and the others' p Holm is
    adjusted over all three comparisons, as statsmodels does."""
    base, k3, k7 = [70.0, 71.0, 72.5], [71.2, 72.5, 73.1], [69.0, 71.5, 70.9]
    trials = [Trial("baseline", {ATTENTION: None}, s, v) for s, v in enumerate(base)]
    trials += [Trial(f"k_size={k}", {K_SIZE: k}, s, v) for k, values in ((3, k3), (5, base), (7, k7))
               for s, v in enumerate(values)]
    log_study(store, make_spec("equal_level", factors={K_SIZE: [3, 5, 7]}, baseline={ATTENTION: None}), trials)
    table = ablation_table("equal_level", uri=store).set_index("level")
    raw = [stats.ttest_rel(k3, base).pvalue, 1.0, stats.ttest_rel(k7, base).pvalue]
    assert table.loc["5", ["test", "delta", "p_value"]].tolist() == ["paired", 0.0, 1.0]
    assert table.loc[["3", "5", "7"], "p_holm"].tolist() == pytest.approx(multipletests(raw, method="holm")[1])
