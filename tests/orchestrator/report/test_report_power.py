"""Seeds needed for 80% power against statsmodels' paired t-test power (an independent solver)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import TTestPower

from orchestrator.report.power import MAX_SEEDS, paired_power, seeds_needed


@pytest.mark.parametrize("effect, sd, alpha", [(0.5, 1.0, 0.05), (4.6, 1.25, 0.05), (1.0, 0.7, 0.01),
                                               (-3.62, 4.73, 0.05), (0.3, 2.0, 0.1),
                                               (2.1, 0.436, 0.05), (3.5, 1.0, 0.05)])
def test_seeds_needed_is_statsmodels_solve_power_rounded_up(effect, sd, alpha):
    solved = TTestPower().solve_power(effect_size=abs(effect) / sd, alpha=alpha, power=0.8,
                                      alternative="two-sided")
    assert seeds_needed(effect, sd, alpha=alpha) == max(2, math.ceil(solved))


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_power_at_n_pairs_matches_statsmodels(n):
    expected = TTestPower().power(effect_size=0.8, nobs=n, alpha=0.05, alternative="two-sided")
    assert paired_power(0.8, 1.0, n) == pytest.approx(expected, rel=1e-6)


def test_edge_cases_say_never_minimum_or_unknown():
    assert seeds_needed(0.0, 1.0) == math.inf  # no difference is never detected
    assert seeds_needed(0.01, 10.0) == math.inf and MAX_SEEDS < 1e6  # past the search
    assert seeds_needed(1.0, 0.0) == 2  # no spread: the fewest pairs a t-test takes
    assert np.isnan(seeds_needed(float("nan"), 1.0)) and np.isnan(seeds_needed(1.0, float("nan")))
