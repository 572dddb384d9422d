"""The statistics helpers against textbook formulas computed here from t quantiles and logits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from report_store import logit_interval
from scipy import stats

from orchestrator.report.formats import DASH, checked_interval
from orchestrator.report.stats import PERCENT, compare, holm, summarize

A = [72.0, 73.1, 72.4, 71.8]
B = [70.1, 71.3, 69.8, 70.9]


def test_summary_is_mean_sample_std_and_t_interval():
    got = summarize(A)
    mean, std = sum(A) / 4, math.sqrt(sum((x - sum(A) / 4) ** 2 for x in A) / 3)
    half = stats.t.ppf(0.975, 3) * std / 2
    assert (got.n, got.mean, got.std) == (4, pytest.approx(mean), pytest.approx(std))
    assert (got.ci_low, got.ci_high) == (pytest.approx(mean - half), pytest.approx(mean + half))


def test_summary_of_one_seed_has_no_spread_and_of_equal_seeds_a_zero_width_interval():
    assert math.isnan(summarize([70.0]).std) and math.isnan(summarize([70.0]).ci_low)
    assert (summarize([70.0, 70.0]).ci_low, summarize([70.0, 70.0]).ci_high) == (70.0, 70.0)


def test_same_seeds_on_both_sides_are_paired():
    got = compare(pd.Series(A, index=[0, 1, 2, 3]), pd.Series(B[::-1], index=[3, 2, 1, 0]))
    d = np.subtract(A, B)
    se = d.std(ddof=1) / 2
    t = d.mean() / se
    assert got.test == "paired"
    assert got.delta == pytest.approx(d.mean())
    assert got.ci_low == pytest.approx(d.mean() - stats.t.ppf(0.975, 3) * se)
    assert got.ci_high == pytest.approx(d.mean() + stats.t.ppf(0.975, 3) * se)
    assert got.p_value == pytest.approx(2 * stats.t.sf(abs(t), 3))


def test_a_missing_seed_falls_back_to_welch():
    got = compare(pd.Series(A[:3], index=[0, 1, 2]), pd.Series(B, index=[0, 1, 2, 3]))
    v1, v2 = np.var(A[:3], ddof=1) / 3, np.var(B, ddof=1) / 4
    se = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / 2 + v2**2 / 3)
    delta = np.mean(A[:3]) - np.mean(B)
    assert got.test == "welch"
    assert got.ci_low == pytest.approx(delta - stats.t.ppf(0.975, df) * se)
    assert got.p_value == pytest.approx(2 * stats.t.sf(abs(delta / se), df))


def test_one_run_gives_a_difference_but_no_test():
    got = compare(pd.Series([71.0], index=[0]), pd.Series(B, index=range(4)))
    assert got.test == "" and got.delta == pytest.approx(71.0 - np.mean(B)) and math.isnan(got.p_value)


def test_holm_steps_down_and_keeps_order_and_gaps():
    got = holm([0.04, float("nan"), 0.01, 0.03, 0.5])
    # sorted: 0.01*4=0.04, 0.03*3=0.09, 0.04*2=0.08 -> max(0.09, 0.08)=0.09, 0.5*1=0.5
    assert np.allclose(got, [0.09, np.nan, 0.04, 0.09, 0.5], equal_nan=True)
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]  # capped at 1


NEAR_TOP = [99.2, 99.9, 100.0]


def test_accuracy_interval_is_the_logit_t_interval_and_stays_inside_0_100():

    got = summarize(NEAR_TOP[:2] + [99.95], bounds=PERCENT)
    assert (got.ci_low, got.ci_high) == pytest.approx(logit_interval(NEAR_TOP[:2] + [99.95]))
    raw = summarize(NEAR_TOP)
    assert raw.ci_high > 100  # what a plain t interval does near the top
    bounded = summarize(NEAR_TOP, bounds=PERCENT)
    assert 0 < bounded.ci_low < bounded.ci_high <= 100 and bounded.mean == raw.mean
    low_end = summarize([0.0, 0.4, 1.5], bounds=PERCENT)
    assert 0 <= low_end.ci_low < low_end.ci_high < 100


def test_intervals_are_informative_from_three_seeds_or_pairs():
    assert [summarize(A[:n]).informative for n in (1, 2, 3)] == [False, False, True]
    pairs = [compare(pd.Series(A[:n], index=range(n)), pd.Series(B[:n], index=range(n))) for n in (2, 3)]
    assert [(c.n, c.informative) for c in pairs] == [(2, False), (3, True)]
    welch = compare(pd.Series(A[:2], index=[0, 1]), pd.Series(B, index=range(4)))
    assert (welch.test, welch.n, welch.informative) == ("welch", 2, False)


def test_sd_of_a_difference_is_paired_or_the_independent_sum():
    paired = compare(pd.Series(A, index=range(4)), pd.Series(B, index=range(4)))
    assert paired.sd_diff == pytest.approx(np.std(np.subtract(A, B), ddof=1))
    welch = compare(pd.Series(A[:3], index=range(3)), pd.Series(B, index=range(4)))
    assert welch.sd_diff == pytest.approx(math.sqrt(np.var(A[:3], ddof=1) + np.var(B, ddof=1)))


def test_table_cells_withhold_intervals_below_three_seeds():
    assert checked_interval(60.0, 80.0, 2) == "not informative (2 seeds)"
    assert checked_interval(60.0, 80.0, 1) == "not informative (1 seed)"
    assert checked_interval(60.0, 80.0, 3) == "[60.00, 80.00]"
    assert checked_interval(float("nan"), float("nan"), 0) == DASH


def test_a_baseline_cell_says_what_it_sets_or_that_it_is_the_base_config() -> None:
    from orchestrator.report.formats import factors_text

    assert factors_text('{"model.attention": null}', "baseline") == "baseline: attention=null"
    assert factors_text("", "baseline") == "baseline: (base config)"  # no search.baseline: nothing patched
    assert factors_text('{"model.k_size": 5}', "k_size=5 [epochs=2]") == "k_size=5 [epochs=2]"
