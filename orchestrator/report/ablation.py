"""Ablation tables: each level of a factor (or each variant) against a reference, with intervals and tests.

The design comes from the spec the latest sweep logged (``spec.json`` on its parent run):

- ``one_at_a_time`` (ablations' default): each level is its own configuration, compared with the
  ``baseline`` cell, or without one with the level the base config already has (else the first);
- ``cumulative``: factors are switched on in spec order; each step is compared with the baseline
  and with the step before it;
- ``factorial`` (grids' default): a level pools every cell holding it (a main effect) and is paired
  with the reference level cell by cell, on the other factors' levels and the seed;
- ``variants``: one table, every variant against the ``reference`` variant (else the first),
  paired by seed.

The rows are built in ``rows.py``. One Holm family per table: every comparison the table shows. Each comparison also says how many
seeds per arm would detect its observed difference, and a difference the reader names
(``min_effect``), with 80% power at the table's alpha (``power.seeds_needed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Optional

import pandas as pd

from ..errors import OrchestrateError
from ..tracking.names import OUTCOMES, PERCENT_METRICS
from ..tracking.reader import latest_sweep
from .basis import BASIS_COLUMN, headline_of
from .power import seeds_needed
from .rows import LoggedDesign, Row, table_rows
from .runs import StudyRuns, load_runs
from .stats import NAN, PERCENT, Comparison, compare, holm, summarize

NO_COMPARISON = Comparison("", NAN, NAN, NAN, NAN)


def study_design(study: str, *, uri: Optional[str] = None) -> LoggedDesign:
    """The design of the study's latest sweep; an error for studies with no fixed factors."""
    sweep = latest_sweep(study, uri=uri)
    if sweep is None or not sweep[1]:
        raise OrchestrateError(f"study {study!r} has no sweep run with a spec.json to read its design from")
    design = LoggedDesign.from_spec(sweep[1])
    if design.kind == "optuna":
        raise OrchestrateError(f"study {study!r} is an optuna search: no ablation tables, see its leaderboard")
    return design


def ablation_tables(
    study: str, *, uri: Optional[str] = None, runs: Optional[StudyRuns] = None,
    metric: Optional[str] = None, confidence: float = 0.95, min_effect: Optional[float] = None,
) -> dict[str, pd.DataFrame]:
    """Every table of the study: one per factor, or the one ``cumulative`` or ``variants`` table."""
    design = study_design(study, uri=uri)
    names = design.tables
    runs = runs if runs is not None else load_runs(study, uri=uri)
    options = Options(metric, confidence, min_effect)
    return {name: _build(design, name, runs, options) for name in names}


def ablation_table(
    study: str, factor: Optional[str] = None, *, uri: Optional[str] = None,
    runs: Optional[StudyRuns] = None, metric: Optional[str] = None, confidence: float = 0.95,
    min_effect: Optional[float] = None,
) -> pd.DataFrame:
    """The table of one ``factor`` (a dotted path of the spec's ``search.factors``).

    A cumulative design has a single table, the whole chain, and takes no factor; so do a
    variants study (every variant against its reference) and a study with one factor. Rows: level, n (finished seeds) and the excluded counts, mean, std, t-based
    CI (inside [0, 100] for accuracies) and ``ci_informative``; then ``delta`` against the
    reference row with its CI, ``test``, ``p_value``, Holm's ``p_holm``, ``delta_n`` and
    ``delta_ci_informative``, ``sd_diff`` and the ``seeds_needed`` (and, given ``min_effect``,
    ``seeds_needed_min_effect``) for 80% power; cumulative tables add the same against the
    previous step, each suffixed ``_prev``. ``basis`` names the split and epoch rule.
    """
    design = study_design(study, uri=uri)
    if design.design in ("cumulative", "variants"):
        name = design.design
    elif factor is None and len(design.factors) == 1:
        name = next(iter(design.factors))
    elif factor in design.factors:
        name = factor
    else:
        choices = ", ".join(design.factors) or "none"
        raise OrchestrateError(f"study {study!r} has no factor {factor!r}; its factors: {choices}")
    runs = runs if runs is not None else load_runs(study, uri=uri)
    return _build(design, name, runs, Options(metric, confidence, min_effect))


@dataclass(frozen=True)
class Options:
    """What every table of a report shares: the metric, the confidence (alpha = 1 - confidence)
    and the difference the reader wants to be able to detect, in the metric's units."""

    metric: Optional[str] = None  # None: the headline of the study's runs (``basis.headline_of``)
    confidence: float = 0.95
    min_effect: Optional[float] = None

    @property
    def bounds(self) -> Optional[tuple[float, float]]:
        return PERCENT if self.metric in PERCENT_METRICS else None


def _build(design: LoggedDesign, name: str, runs: StudyRuns, options: Options) -> pd.DataFrame:
    frame = runs.frame.assign(_factors=runs.frame["factors"].map(lambda text: json.loads(text or "{}")))
    rows = table_rows(design, name, frame)
    basis = headline_of(runs.frame)
    options = replace(options, metric=options.metric or basis.metric)
    table = _table(rows, options, with_previous=name == "cumulative")
    if options.metric == basis.metric:
        table[BASIS_COLUMN] = basis.label
        table.attrs["basis"] = basis
    table.attrs.update(factor=name, design=design.design, metric=options.metric,
                       confidence=options.confidence, min_effect=options.min_effect)
    return table


def _values(runs: pd.DataFrame, metric: str) -> pd.Series:
    """Finished values by pair key; a pair recorded twice (base spec edited between sweeps) keeps the latest."""
    done = runs[(runs["outcome"] == "finished") & runs[metric].notna()]
    done = done.sort_values("start_time", kind="stable").drop_duplicates("pair", keep="last")
    return pd.Series(done[metric].to_numpy(float), index=done["pair"].to_numpy())


def _table(rows: list[Row], options: Options, *, with_previous: bool) -> pd.DataFrame:
    values = [_values(row.runs, options.metric) for row in rows]
    reference = next((i for i, row in enumerate(rows) if row.reference), None)
    records = []
    for index, row in enumerate(rows):
        summary = summarize(values[index], confidence=options.confidence, bounds=options.bounds)
        keys = set(row.runs["config_key"])
        counts = row.runs["outcome"].value_counts()
        record: dict[str, Any] = {
            "level": row.level, "reference": row.reference,
            "config_key": keys.pop() if len(keys) == 1 else "", "n": summary.n,
            **{f"n_{outcome}": int(counts.get(outcome, 0)) for outcome in OUTCOMES[1:]},
            "n_missing": int(((row.runs["outcome"] == "finished") & row.runs[options.metric].isna()).sum()),
            "mean": summary.mean, "std": summary.std, "ci_low": summary.ci_low, "ci_high": summary.ci_high,
            "ci_informative": summary.informative,
        }
        against = None if row.reference else reference
        record |= _comparison_columns(values, index, against, "", options)
        if with_previous:
            # A step right after the reference repeats the comparison above; the Holm family holds it once.
            previous = None if row.previous == reference else row.previous
            record |= _comparison_columns(values, index, previous, "_prev", options)
        records.append(record)
    return _with_holm(pd.DataFrame(records), ["", "_prev"] if with_previous else [""])


def _comparison_columns(values: list[pd.Series], index: int, against: Optional[int], suffix: str,
                        options: Options) -> dict[str, Any]:
    result = (NO_COMPARISON if against is None
              else compare(values[index], values[against], confidence=options.confidence))
    alpha = 1 - options.confidence
    wanted = NAN if options.min_effect is None else options.min_effect
    columns = {"delta": result.delta, "delta_ci_low": result.ci_low, "delta_ci_high": result.ci_high,
               "test": result.test, "p_value": result.p_value, "delta_n": result.n,
               "delta_ci_informative": result.informative, "sd_diff": result.sd_diff,
               "seeds_needed": seeds_needed(result.delta, result.sd_diff, alpha=alpha),
               "seeds_needed_min_effect": seeds_needed(wanted, result.sd_diff, alpha=alpha)}
    return {f"{name}{suffix}": value for name, value in columns.items()}


def _with_holm(table: pd.DataFrame, suffixes: list[str]) -> pd.DataFrame:
    """Holm over every p-value of the table, each adjusted column right after its raw one."""
    adjusted = holm(pd.concat([table[f"p_value{s}"] for s in suffixes], ignore_index=True))
    for offset, suffix in enumerate(suffixes):
        at = table.columns.get_loc(f"p_value{suffix}") + 1
        table.insert(at, f"p_holm{suffix}", adjusted[offset * len(table):(offset + 1) * len(table)])
    return table
