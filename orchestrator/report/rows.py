"""The rows of an ablation table, one builder per design, and the design read back from the
logged spec. Each row holds its runs with a ``pair`` key (the seed, or the other factors' levels
and the seed), so the table pairs arms that share keys and falls back to Welch otherwise."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

import pandas as pd

from ..tracking.names import BASELINE_LABEL

MISSING = object()


@dataclass(frozen=True)
class LoggedDesign:
    """What an ablation, grid or variants study varied, read back from its logged spec."""

    kind: str
    design: str
    factors: dict[str, list[Any]]
    baseline: Optional[dict[str, Any]]
    spec: dict[str, Any] = field(repr=False)
    variants: list[str] = field(default_factory=list)  # a variants study's row names, in spec order
    reference: Optional[str] = None  # the variant the others are compared with

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> LoggedDesign:
        search = spec.get("search") or {}
        kind = search.get("kind", "grid")
        design = "variants" if kind == "variants" else (
            search.get("design") or ("factorial" if kind == "grid" else "one_at_a_time"))
        return cls(kind, design, dict(search.get("factors") or {}), search.get("baseline"), spec,
                   variants=list(search.get("variants") or {}), reference=search.get("reference"))

    @property
    def tables(self) -> list[str]:
        """The study's tables: one per factor, or the single ``cumulative`` or ``variants`` one."""
        return [self.design] if self.design in ("cumulative", "variants") else list(self.factors)

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


def _has_baseline(design: LoggedDesign, frame: pd.DataFrame) -> bool:
    """Whether the study ran a baseline cell: an ablation runs one (the base config patched with
    ``search.baseline``, the base config itself without it); a study logged before that, not."""
    return design.baseline is not None or bool((frame["label"] == BASELINE_LABEL).any())


def _mark_reference(design: LoggedDesign, factor: str, rows: list[Row]) -> list[Row]:
    """With no baseline cell, the level the base config has is the reference, else the first."""
    default = design.default_level(factor)
    levels = [_canon(level) for level in design.factors[factor]]
    if rows:
        found = default is not MISSING and _canon(default) in levels
        rows[levels.index(_canon(default)) if found else 0].reference = True
    return rows


def one_at_a_time_rows(design: LoggedDesign, factor: str, frame: pd.DataFrame) -> list[Row]:
    cells = frame["_factors"].map(_canon)
    rows = [Row(_show(level), _by_seed(frame[cells == _canon({factor: level})])) for level in design.factors[factor]]
    if not _has_baseline(design, frame):
        return _mark_reference(design, factor, rows)
    # Without search.baseline, the level the base config has is the baseline cell itself (one
    # run per configuration and seed): its row holds no runs of its own.
    default = design.default_level(factor)
    same = [not design.baseline and default is not MISSING and _canon(level) == _canon(default) and row.runs.empty
            for level, row in zip(design.factors[factor], rows)]
    return [_baseline_row(frame), *(row for row, dropped in zip(rows, same) if not dropped)]


def factorial_rows(design: LoggedDesign, factor: str, frame: pd.DataFrame) -> list[Row]:
    cells = frame[(frame["label"] != BASELINE_LABEL) & frame["_factors"].map(lambda f: factor in f)]
    level = cells["_factors"].map(lambda f: _canon(f[factor]))
    others = cells["_factors"].map(lambda f: _canon({k: v for k, v in f.items() if k != factor}))
    cells = cells.assign(pair=others + "|" + cells["seed"].astype(str))
    levels = design.factors[factor]
    rows = [Row(_show(value), cells[level == _canon(value)]) for value in levels]
    return _mark_reference(design, factor, rows)


def cumulative_rows(design: LoggedDesign, frame: pd.DataFrame) -> list[Row]:
    """Baseline, then each configuration whose varied factors are exactly the first k in spec order.

    Without a baseline cell (a study logged before ablations always ran one) the first step is
    the reference and has no previous step.
    """
    paths = list(design.factors)
    steps = frame[frame["label"] != BASELINE_LABEL]
    chosen = steps["_factors"].map(lambda f: {p: f[p] for p in paths if p in f})
    prefix = chosen.map(lambda c: 0 < len(c) and list(c) == paths[: len(c)] and _planned(design, c))
    steps, keys = _by_seed(steps[prefix]), chosen[prefix].map(_canon)
    rows = [_baseline_row(frame)] if _has_baseline(design, frame) else []
    position = {_canon({}): 0} if rows else {}
    cells = dict(zip(keys, chosen[prefix]))  # canonical key -> factors in spec order
    for key in sorted(cells, key=lambda k: _level_order(design, cells[k])):
        cell = cells[key]
        last = list(cell)[-1]
        before = _canon({p: v for p, v in cell.items() if p != last})
        position[key] = len(rows)
        # None when the step before never ran: no comparison rather than a wrong one.
        rows.append(Row(f"+{_short(last)}={_show(cell[last])}", steps[keys == key], previous=position.get(before)))
    if rows and not _has_baseline(design, frame):
        rows[0].reference = True
    return rows


def _planned(design: LoggedDesign, cell: dict[str, Any]) -> bool:
    """Every value is one of its factor's levels in this spec (not left over from an older one)."""
    return all(_canon(value) in {_canon(v) for v in design.factors[p]} for p, value in cell.items())


def _level_order(design: LoggedDesign, cell: dict[str, Any]) -> tuple[int, list[int]]:
    """Step, then each value's index among its factor's levels: rows follow the spec's order."""
    return len(cell), [[_canon(v) for v in design.factors[p]].index(_canon(value)) for p, value in cell.items()]


def table_rows(design: LoggedDesign, name: str, frame: pd.DataFrame) -> list[Row]:
    """The rows of the table ``name`` (one of ``design.tables``); ``frame`` has parsed ``_factors``."""
    if design.design == "variants":
        return variant_rows(design, frame)
    if name == "cumulative":
        return cumulative_rows(design, frame)
    if design.design == "factorial":
        return factorial_rows(design, name, frame)
    return one_at_a_time_rows(design, name, frame)


def variant_rows(design: LoggedDesign, frame: pd.DataFrame) -> list[Row]:
    """Each variant by its name, the reference first (the spec's, else the first variant), then
    the spec's order. Every row is one configuration over seeds, so arms pair by seed."""
    reference = design.reference or design.variants[0]
    order = [reference, *(name for name in design.variants if name != reference)]
    return [Row(name, _by_seed(frame[frame["label"] == name]), reference=name == reference) for name in order]
