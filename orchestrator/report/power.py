"""How many seeds would settle a comparison: the power of a paired t-test, solved for n.

A table with two seeds cannot say whether a 0.5-point difference is real; it can say how many
seeds per arm would detect it 80% of the time, given how much one seed's difference varies
(``Comparison.sd_diff``). The test planned is the one the tables run when every seed exists on
both sides: a two-sided paired t-test at the table's alpha. Its power at ``n`` pairs is exact,
from the noncentral t distribution (``scipy.stats.nct``), so n is found by evaluating every
candidate rather than by a normal approximation, which undercounts at the small n that matter.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

NAN = float("nan")
POWER = 0.8  # the conventional target: a real effect of that size is missed one time in five
MAX_SEEDS = 1000  # beyond this the answer is "infinitely many" for any study this tool runs


def paired_power(effect: float, sd_diff: float, n: ArrayLike, *, alpha: float = 0.05) -> np.ndarray:
    """Power of the two-sided paired t-test with ``n`` pairs when the true mean difference is
    ``effect`` and one pair's difference has standard deviation ``sd_diff``.

    The far tail (rejecting with the wrong sign) is vanishingly small once the effect is a few
    standard errors, where scipy's ``nct.cdf`` underflows to NaN; it counts as 0 there.
    """
    from scipy import stats  # here: the sweep's closing leaderboard reads this module's constants only

    n = np.asarray(n, dtype=float)
    df = n - 1
    noncentrality = abs(effect) / sd_diff * np.sqrt(n)
    critical = stats.t.ppf(1 - alpha / 2, df)
    wrong_sign = np.nan_to_num(stats.nct.cdf(-critical, df, noncentrality), nan=0.0)
    return stats.nct.sf(critical, df, noncentrality) + wrong_sign


def seeds_needed(effect: float, sd_diff: float, *, alpha: float = 0.05, power: float = POWER,
                 max_seeds: int = MAX_SEEDS) -> float:
    """The fewest seeds per arm (pairs, at least 2) whose paired test reaches ``power`` against
    ``effect``; ``inf`` when more than ``max_seeds`` would be needed, NaN when unknown.

    A zero spread with a non-zero effect needs the minimum, 2 pairs; a zero effect is never
    detected (``inf``).
    """
    if np.isnan(effect) or np.isnan(sd_diff):
        return NAN
    if effect == 0:
        return float("inf")
    if sd_diff == 0:
        return 2.0
    candidates = np.arange(2, max_seeds + 1)
    reached = np.flatnonzero(paired_power(effect, sd_diff, candidates, alpha=alpha) >= power)
    return float(candidates[reached[0]]) if len(reached) else float("inf")
