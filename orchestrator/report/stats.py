"""Small-sample statistics for seed-level results: t intervals, paired or Welch tests, Holm.

A configuration has a handful of seeds, so intervals use Student's t, never a normal
approximation. An accuracy lives in [0, 100], and a t interval on the raw scale runs past 100
when seeds spread near the top; accuracies get their t interval on the logit scale of the
proportion instead, back-transformed, which can never leave the bounds (``bounded_interval``).
Below ``MIN_INFORMATIVE_SEEDS`` seeds every interval is computed but flagged: with two seeds the t
quantile is 12.7, and the interval says little more than that the seeds differ. A difference is tested on the seeds both sides share whenever every seed exists on
both sides: seed-to-seed noise (data order, initialisation) then cancels, which is what repeating
every configuration with the same seeds buys. Otherwise Welch's test, which assumes neither equal
sizes nor equal variances.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

NAN = float("nan")
MIN_INFORMATIVE_SEEDS = 3  # seeds (or pairs) below which an interval is shown as not informative
PERCENT = (0.0, 100.0)  # the bounds of an accuracy in %
# Accuracies of exactly 0 or 100 % have no logit: they are moved this far (in %) inside the bounds,
# well below one image of any validation split this tool reads (1 / 10,000 images = 0.01 %).
EDGE = 1e-3


@dataclass(frozen=True)
class Summary:
    """Mean, sample std (ddof=1) and the t interval of the mean; NaN where n is too small."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float

    @property
    def informative(self) -> bool:
        return informative(self.n)


@dataclass(frozen=True)
class Comparison:
    """``treated - reference``: its interval and two-sided p-value, and which test gave them.

    ``test`` is ``"paired"``, ``"welch"``, or ``""`` when a side has fewer than two runs. ``n`` is
    the number of pairs (paired) or the smaller side (Welch): what makes the interval informative.
    ``sd_diff`` is the standard deviation of one seed's difference: of the paired differences, or
    for Welch ``sqrt(s_t^2 + s_r^2)``, the spread a difference of two independent seeds has. It
    sizes the next experiment (``power.seeds_needed``).
    """

    test: str
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int = 0
    sd_diff: float = NAN

    @property
    def informative(self) -> bool:
        return informative(self.n)


def informative(n: Any) -> Any:
    """Whether an interval from ``n`` seeds (or pairs) is worth printing; elementwise on arrays."""
    return n >= MIN_INFORMATIVE_SEEDS


def summarize(values: Iterable[float], *, confidence: float = 0.95,
              bounds: Optional[tuple[float, float]] = None) -> Summary:
    """Summary of one configuration's per-seed values; the interval respects ``bounds`` if given."""
    x = np.asarray(list(values), dtype=float)
    if len(x) == 0:
        return Summary(0, NAN, NAN, NAN, NAN)
    if len(x) == 1:
        return Summary(1, float(x[0]), NAN, NAN, NAN)
    mean, std = float(x.mean()), float(x.std(ddof=1))
    if bounds is not None:
        low, high = bounded_interval(x, bounds, confidence=confidence)
        return Summary(len(x), mean, std, low, high)
    half = float(t_half_width(std, len(x), confidence=confidence))
    return Summary(len(x), mean, std, float(mean - half), float(mean + half))


def to_logit(values: ArrayLike, bounds: tuple[float, float] = PERCENT) -> np.ndarray:
    """The logit of each value's position between ``bounds``; the bounds themselves move ``EDGE`` in."""
    low, high = bounds
    clipped = np.clip(np.asarray(values, dtype=float), low + EDGE, high - EDGE)
    return special.logit((clipped - low) / (high - low))


def from_logit(values: ArrayLike, bounds: tuple[float, float] = PERCENT) -> np.ndarray:
    low, high = bounds
    return low + (high - low) * special.expit(np.asarray(values, dtype=float))


def bounded_interval(values: ArrayLike, bounds: tuple[float, float] = PERCENT, *,
                     confidence: float = 0.95) -> tuple[float, float]:
    """The t interval of the mean logit of ``values``, back-transformed: inside ``bounds`` always.

    It is an interval for the centre on the logit scale (the back-transformed mean logit), which
    for accuracies away from the bounds is within a hair of the arithmetic mean; near a bound it
    is asymmetric, short on the side of the bound, as the spread of a proportion is.
    """
    z = to_logit(values, bounds)
    if len(z) < 2:
        return NAN, NAN
    half = float(t_half_width(z.std(ddof=1), len(z), confidence=confidence))
    low, high = from_logit([z.mean() - half, z.mean() + half], bounds)
    return float(low), float(high)


def t_half_width(std: ArrayLike, n: ArrayLike, *, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the t interval of a mean, elementwise; NaN where n < 2.

    Written out rather than ``stats.t.interval``, which returns NaN when every seed agrees. The
    quantile is ``special.stdtrit`` (what ``stats.t.ppf`` computes): the sweep's closing
    leaderboard needs only this, and importing ``scipy.stats`` would add half a second to every
    sweep's driver.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = special.stdtrit(np.where(n >= 2, n - 1, np.nan), 0.5 + confidence / 2)
        return quantile * np.asarray(std, dtype=float) / np.sqrt(n)


def compare(treated: pd.Series, reference: pd.Series, *, confidence: float = 0.95) -> Comparison:
    """Test ``treated - reference``; both are indexed by pair key (the seed, say), unique.

    Paired when both sides hold exactly the same keys (at least two), Welch when each side has
    at least two values, otherwise only the difference of means.
    """
    from scipy import stats  # here, not above: see t_half_width

    delta = float(treated.mean() - reference.mean()) if len(treated) and len(reference) else NAN
    t_values, r_values = treated.to_numpy(float), reference.to_numpy(float)
    with warnings.catch_warnings():
        # Identical values on both sides make t undefined; scipy warns and returns NaN (see below).
        warnings.simplefilter("ignore", RuntimeWarning)
        if len(treated) >= 2 and set(treated.index) == set(reference.index):
            aligned = reference.reindex(treated.index).to_numpy(float)
            result = stats.ttest_rel(t_values, aligned)
            test, n, sd_diff = "paired", len(t_values), float(np.std(t_values - aligned, ddof=1))
        elif len(treated) >= 2 and len(reference) >= 2:
            result = stats.ttest_ind(t_values, r_values, equal_var=False)
            n = min(len(t_values), len(r_values))
            sd_diff = float(np.hypot(t_values.std(ddof=1), r_values.std(ddof=1)))
            test = "welch"
        else:
            return Comparison("", delta, NAN, NAN, NAN, min(len(treated), len(reference)))
        interval = result.confidence_interval(confidence_level=confidence)
    p_value = float(result.pvalue)
    if np.isnan(p_value) and delta == 0 and sd_diff == 0:
        # Every seed equal on both sides: t is 0/0, but the data show no difference at all. A NaN
        # would drop the comparison from the table's Holm family and shrink the others' p Holm.
        p_value = 1.0
    return Comparison(test, delta, float(interval.low), float(interval.high), p_value, n, sd_diff)


def holm(p_values: Iterable[float]) -> np.ndarray:
    """Holm's step-down adjustment of one family of p-values; NaN entries stay NaN.

    Controls the family-wise error rate without assuming independence, and is uniformly more
    powerful than Bonferroni. Written here because statsmodels is not a dependency.
    """
    p = np.asarray(list(p_values), dtype=float)
    adjusted = np.full_like(p, NAN)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    m, running = len(order), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
