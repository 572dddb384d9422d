"""Ablation tables: each level of a factor against the baseline, with intervals and tests.

The design comes from the spec the latest sweep logged (``spec.json`` on its parent run):

- ``one_at_a_time`` (ablations' default): each level is its own configuration, compared with the
  ``baseline`` cell, or without one with the level the base config already has (else the first);
- ``cumulative``: factors are switched on in spec order; each step is compared with the baseline
  and with the step before it;
- ``factorial`` (grids' default): a level pools every cell holding it (a main effect) and is paired
  with the reference level cell by cell, on the other factors' levels and the seed.

One Holm family per table: every comparison the table shows. Each comparison also says how many
seeds per arm would detect its observed difference, and a difference the reader names
(``min_effect``), with 80% power at the table's alpha (``power.seeds_needed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import pandas as pd

from ..errors import OrchestrateError
from ..tracking.names import BASELINE_LABEL, OUTCOMES, PERCENT_METRICS
from ..tracking.reader import latest_sweep
from .basis import BASIS_COLUMN, headline_of
from .power import seeds_needed
from .runs import StudyRuns, load_runs
from .stats import NAN, PERCENT, Comparison, compare, holm, summarize

MISSING = object()
NO_COMPARISON = Comparison("", NAN, NAN, NAN, NAN)


@dataclass(frozen=True)
class Design:
    """What an ablation or grid study varied, read back from its logged spec."""

    kind: str
    design: str
    factors: dict[str, list[Any]]
    baseline: Optional[dict[str, Any]]
    spec: dict[str, Any] = field(repr=False)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Design:
        search = spec.get("search") or {}
        kind = search.get("kind", "grid")
        design = search.get("design") or ("factorial" if kind == "grid" else "one_at_a_time")
        return cls(kind, design, dict(search.get("factors") or {}), search.get("baseline"), spec)

    def default_level(self, factor: str) -> Any:
        """The value the base config gives ``factor`` (``MISSING`` when it sets none)."""
        node: Any = self.spec
        for part in factor.split("."):
            if not isinstance(node, dict) or part not in node:
                return MISSING
            node = node[part]
        return node


@dataclass
class Row:
    """One table row: its runs (every outcome) with a ``pair`` key column, and what it is tested against."""

    level: str
    runs: pd.DataFrame
    reference: bool = False
    previous: Optional[int] = None


def study_design(study: str, *, uri: Optional[str] = None) -> Design:
    """The design of the study's latest sweep; an error for studies with no fixed factors."""
    sweep = latest_sweep(study, uri=uri)
    if sweep is None or not sweep[1]:
        raise OrchestrateError(f"study {study!r} has no sweep run with a spec.json to read its design from")
    design = Design.from_spec(sweep[1])
    if design.kind == "optuna":
        raise OrchestrateError(f"study {study!r} is an optuna search: no ablation tables, see its leaderboard")
    return design


def ablation_tables(
    study: str, *, uri: Optional[str] = None, runs: Optional[StudyRuns] = None,
    metric: Optional[str] = None, confidence: float = 0.95, min_effect: Optional[float] = None,
) -> dict[str, pd.DataFrame]:
    """Every table of the study: one per factor, or one ``cumulative`` table for that design."""
    design = study_design(study, uri=uri)
    names = ["cumulative"] if design.design == "cumulative" else list(design.factors)
    runs = runs if runs is not None else load_runs(study, uri=uri)
    options = Options(metric, confidence, min_effect)
    return {name: _build(design, name, runs, options) for name in names}


def ablation_table(
    study: str, factor: Optional[str] = None, *, uri: Optional[str] = None,
    runs: Optional[StudyRuns] = None, metric: Optional[str] = None, confidence: float = 0.95,
    min_effect: Optional[float] = None,
) -> pd.DataFrame:
    """The table of one ``factor`` (a dotted path of the spec's ``search.factors``).

    A cumulative design has a single table, the whole chain, and takes no factor; so may a study
    with one factor. Rows: level, n (finished seeds) and the excluded counts, mean, std, t-based
    CI (inside [0, 100] for accuracies) and ``ci_informative``; then ``delta`` against the
    reference row with its CI, ``test``, ``p_value``, Holm's ``p_holm``, ``delta_n`` and
    ``delta_ci_informative``, ``sd_diff`` and the ``seeds_needed`` (and, given ``min_effect``,
    ``seeds_needed_min_effect``) for 80% power; cumulative tables add the same against the
    previous step, each suffixed ``_prev``. ``basis`` names the split and epoch rule.
    """
    design = study_design(study, uri=uri)
    if design.design == "cumulative":
        name = "cumulative"
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


def _build(design: Design, name: str, runs: StudyRuns, options: Options) -> pd.DataFrame:
    frame = runs.frame.assign(_factors=runs.frame["factors"].map(lambda text: json.loads(text or "{}")))
    if name == "cumulative":
        rows = _cumulative_rows(design, frame)
    elif design.design == "factorial":
        rows = _factorial_rows(design, name, frame)
    else:
        rows = _one_at_a_time_rows(design, name, frame)
    basis = headline_of(runs.frame)
    options = replace(options, metric=options.metric or basis.metric)
    table = _table(rows, options, with_previous=name == "cumulative")
    if options.metric == basis.metric:
        table[BASIS_COLUMN] = basis.label
        table.attrs["basis"] = basis
    table.attrs.update(factor=name, design=design.design, metric=options.metric,
                       confidence=options.confidence, min_effect=options.min_effect)
    return table


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _short(factor: str) -> str:
    return factor.rsplit(".", 1)[-1]


def _by_seed(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.assign(pair=runs["seed"].astype(str))


def _baseline_row(frame: pd.DataFrame) -> Row:
    return Row(BASELINE_LABEL, _by_seed(frame[frame["label"] == BASELINE_LABEL]), reference=True)


def _mark_reference(design: Design, factor: str, rows: list[Row]) -> list[Row]:
    """With no baseline cell, the level the base config has is the reference, else the first."""
    default = design.default_level(factor)
    levels = [_canon(level) for level in design.factors[factor]]
    if rows:
        found = default is not MISSING and _canon(default) in levels
        rows[levels.index(_canon(default)) if found else 0].reference = True
    return rows


def _one_at_a_time_rows(design: Design, factor: str, frame: pd.DataFrame) -> list[Row]:
    cells = frame["_factors"].map(_canon)
    rows = [Row(_show(level), _by_seed(frame[cells == _canon({factor: level})])) for level in design.factors[factor]]
    if design.baseline is None:
        return _mark_reference(design, factor, rows)
    return [_baseline_row(frame), *rows]


def _factorial_rows(design: Design, factor: str, frame: pd.DataFrame) -> list[Row]:
    cells = frame[(frame["label"] != BASELINE_LABEL) & frame["_factors"].map(lambda f: factor in f)]
    level = cells["_factors"].map(lambda f: _canon(f[factor]))
    others = cells["_factors"].map(lambda f: _canon({k: v for k, v in f.items() if k != factor}))
    cells = cells.assign(pair=others + "|" + cells["seed"].astype(str))
    levels = design.factors[factor]
    rows = [Row(_show(value), cells[level == _canon(value)]) for value in levels]
    return _mark_reference(design, factor, rows)


def _cumulative_rows(design: Design, frame: pd.DataFrame) -> list[Row]:
    """Baseline, then each configuration whose varied factors are exactly the first k in spec order.

    Without a baseline cell the first step is the reference and has no previous step.
    """
    paths = list(design.factors)
    steps = frame[frame["label"] != BASELINE_LABEL]
    chosen = steps["_factors"].map(lambda f: {p: f[p] for p in paths if p in f})
    prefix = chosen.map(lambda c: 0 < len(c) and list(c) == paths[: len(c)] and _planned(design, c))
    steps, keys = _by_seed(steps[prefix]), chosen[prefix].map(_canon)
    rows = [] if design.baseline is None else [_baseline_row(frame)]
    position = {_canon({}): 0} if rows else {}
    cells = dict(zip(keys, chosen[prefix]))  # canonical key -> factors in spec order
    for key in sorted(cells, key=lambda k: _level_order(design, cells[k])):
        cell = cells[key]
        last = list(cell)[-1]
        before = _canon({p: v for p, v in cell.items() if p != last})
        position[key] = len(rows)
        # None when the step before never ran: no comparison rather than a wrong one.
        rows.append(Row(f"+{_short(last)}={_show(cell[last])}", steps[keys == key], previous=position.get(before)))
    if rows and design.baseline is None:
        rows[0].reference = True
    return rows


def _planned(design: Design, cell: dict[str, Any]) -> bool:
    """Every value is one of its factor's levels in this spec (not left over from an older one)."""
    return all(_canon(value) in {_canon(v) for v in design.factors[p]} for p, value in cell.items())


def _level_order(design: Design, cell: dict[str, Any]) -> tuple[int, list[int]]:
    """Step, then each value's index among its factor's levels: rows follow the spec's order."""
    return len(cell), [[_canon(v) for v in design.factors[p]].index(_canon(value)) for p, value in cell.items()]


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
