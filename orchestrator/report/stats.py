"""Small-sample statistics for seed-level results: t intervals, paired or Welch tests, Holm.

A configuration has a handful of seeds, so intervals use Student's t, never a normal
approximation. A difference is tested on the seeds both sides share whenever every seed exists on
both sides: seed-to-seed noise (data order, initialisation) then cancels, which is what repeating
every configuration with the same seeds buys. Otherwise Welch's test, which assumes neither equal
sizes nor equal variances.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

NAN = float("nan")


@dataclass(frozen=True)
class Summary:
    """Mean, sample std (ddof=1) and the t interval of the mean; NaN where n is too small."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Comparison:
    """``treated - reference``: its interval and two-sided p-value, and which test gave them.

    ``test`` is ``"paired"``, ``"welch"``, or ``""`` when a side has fewer than two runs.
    """

    test: str
    delta: float
    ci_low: float
    ci_high: float
    p_value: float


def summarize(values: Iterable[float], *, confidence: float = 0.95) -> Summary:
    """Summary of one configuration's per-seed values."""
    x = np.asarray(list(values), dtype=float)
    if len(x) == 0:
        return Summary(0, NAN, NAN, NAN, NAN)
    if len(x) == 1:
        return Summary(1, float(x[0]), NAN, NAN, NAN)
    mean, std = float(x.mean()), float(x.std(ddof=1))
    half = float(t_half_width(std, len(x), confidence=confidence))
    return Summary(len(x), mean, std, float(mean - half), float(mean + half))


def t_half_width(std: ArrayLike, n: ArrayLike, *, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the t interval of a mean, elementwise; NaN where n < 2.

    Written out rather than ``stats.t.interval``, which returns NaN when every seed agrees.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, np.nan))
        return quantile * np.asarray(std, dtype=float) / np.sqrt(n)


def compare(treated: pd.Series, reference: pd.Series, *, confidence: float = 0.95) -> Comparison:
    """Test ``treated - reference``; both are indexed by pair key (the seed, say), unique.

    Paired when both sides hold exactly the same keys (at least two), Welch when each side has
    at least two values, otherwise only the difference of means.
    """
    delta = float(treated.mean() - reference.mean()) if len(treated) and len(reference) else NAN
    with warnings.catch_warnings():
        # Identical values on both sides make t undefined; scipy warns and returns NaN, kept.
        warnings.simplefilter("ignore", RuntimeWarning)
        if len(treated) >= 2 and set(treated.index) == set(reference.index):
            aligned = reference.reindex(treated.index)
            result = stats.ttest_rel(treated.to_numpy(float), aligned.to_numpy(float))
            test = "paired"
        elif len(treated) >= 2 and len(reference) >= 2:
            result = stats.ttest_ind(treated.to_numpy(float), reference.to_numpy(float), equal_var=False)
            test = "welch"
        else:
            return Comparison("", delta, NAN, NAN, NAN)
        interval = result.confidence_interval(confidence_level=confidence)
    return Comparison(test, delta, float(interval.low), float(interval.high), float(result.pvalue))


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
