"""Seeds until settled: add seeds only where a comparison is still undecided.

After ``repeats`` seeds, each row's difference from the reference row gets an interval (paired
by seed, as the report's tables compute it). A comparison is decided when its interval excludes
0 (the rows differ) or holds 0 and is narrower than ``settle.width`` (no difference worth the
name). Undecided rows get ``settle.batch`` more seeds, the reference the same seeds so pairs
stay complete, until every comparison is decided or a row reaches ``settle.max_repeats``. Each
round is read back from the store, so a resumed sweep goes on from where the last one stopped.
No library sequential-testing routine works on MLflow runs keyed by seed, hence this module.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterator, Optional, Protocol

import pandas as pd
from pydantic import Field

from ..errors import OptionError
from ..schema import StrictModel
from ..spec.plans import Cell, TrialPlan, plans_for
from ..spec.study import MAX_REPEATS, SearchOptions, StudySpec
from ..tracking.names import SETTLE_FILE, rank_column
from .stages import PlanStage, StudyState


class SettleSpec(StrictModel):
    """Seeds until settled: after ``repeats`` seeds, add ``batch`` more at a time to each arm whose
    difference from the reference is undecided (its interval holds 0 and is wider than
    ``width``), until every comparison is decided or the arm has ``max_repeats`` seeds."""

    max_repeats: int = Field(10, ge=3, le=MAX_REPEATS, description="seeds an arm may reach")
    batch: int = Field(2, ge=1, description="seeds added to an undecided arm per round")
    width: float = Field(1.0, gt=0, description="an interval this narrow (in the metric's units, e.g. "
                                                "points of top-1) that holds 0 decides: no difference")
    confidence: float = Field(0.95, gt=0, lt=1)


def check_settle(search: SearchOptions) -> None:
    """What seeds until settled asks of the search that has it: seeds to start from, room to
    add more, and no scheduler stopping them early."""
    rule: Optional[SettleSpec] = getattr(search, "settle", None)
    if rule is None:
        return
    if search.repeats < 2 or rule.max_repeats <= search.repeats:
        raise OptionError("settle.max_repeats", f"start from at least 2 seeds (repeats: {search.repeats}) "
                                                "and allow more than that")
    if search.scheduler is not None:
        raise OptionError("settle", "a scheduler stops trials early; their seeds would never settle")


class Compared(Protocol):
    """A design whose rows are compared with a reference row."""

    def reference(self, spec: StudySpec) -> str: ...

    def cells(self, spec: StudySpec) -> list[Cell]: ...


DIFFERS, EQUIVALENT, BUDGET, UNDECIDED = "differs", "within width", "max repeats", "undecided"


@dataclass(frozen=True)
class Decision:
    """Where one row stands against the reference after the seeds it has."""

    row: str
    seeds: int
    delta: float
    ci_low: float
    ci_high: float
    verdict: str  # DIFFERS, EQUIVALENT, BUDGET or UNDECIDED


def decide(values: pd.DataFrame, reference: str, rule: SettleSpec) -> list[Decision]:
    """Each non-reference row of ``values`` (columns ``row``, ``seed``, ``value``) against the
    reference row, paired by seed."""
    from ..report.stats import compare  # the report's interval, so the table and the rule agree; SciPy: here

    by_row = {row: group.set_index("seed")["value"] for row, group in values.groupby("row", sort=False)}
    base = by_row.get(reference, pd.Series(dtype=float))
    decisions = []
    for row, treated in by_row.items():
        if row == reference:
            continue
        common = treated.index.intersection(base.index)
        result = compare(treated[common], base[common], confidence=rule.confidence)
        low, high = result.ci_low, result.ci_high
        if math.isnan(low) and result.test == "paired" and result.sd_diff == 0:
            low = high = result.delta  # every pair differs by the same amount: the interval is a point
        decisions.append(Decision(row, len(common), result.delta, low, high, _verdict(low, high, len(common), rule)))
    return decisions


def _verdict(low: float, high: float, seeds: int, rule: SettleSpec) -> str:
    if not math.isnan(low) and (low > 0 or high < 0):
        return DIFFERS
    if not math.isnan(low) and high - low <= rule.width:
        return EQUIVALENT
    return BUDGET if seeds >= rule.max_repeats else UNDECIDED


def seeds_wanted(decisions: list[Decision], reference: str, rule: SettleSpec) -> dict[str, int]:
    """Row -> seeds it should have after the next round: undecided rows grow by a batch, and the
    reference to the largest of them; empty when every comparison is decided or out of budget."""
    wanted = {d.row: min(d.seeds + rule.batch, rule.max_repeats) for d in decisions if d.verdict == UNDECIDED}
    if wanted:
        wanted[reference] = max(wanted.values())
    return wanted


def settle_stages(design: Compared, state: StudyState, rule: SettleSpec) -> Iterator[PlanStage]:
    """Rounds of seeds until every comparison is decided; the decisions go on the parent run."""
    spec = state.spec
    reference, cells = design.reference(spec), design.cells(spec)
    attempted: set[str] = set()
    for round_number in range(1, rule.max_repeats + 1):
        decisions = decide(_values(spec, state.uri, cells), reference, rule)
        wanted = seeds_wanted(decisions, reference, rule)
        plans = state.pending(_plans(spec, cells, wanted))
        if not plans or {p.run_key for p in plans} <= attempted:  # nothing new (or only failed seeds)
            break
        attempted |= {p.run_key for p in plans}
        state.echo(f"settle round {round_number}: {len(plans)} more seeds for "
                   f"{', '.join(row for row in wanted if row != reference)}")
        yield PlanStage(f"settle-{round_number}", plans)
    state.record({"reference": reference, "rows": [asdict(decision) for decision in decisions]}, SETTLE_FILE)
    for decision in decisions:
        state.echo(f"settled {decision.row}: {decision.verdict} after {decision.seeds} seeds "
                   f"(Δ {decision.delta:+.3g}, interval [{decision.ci_low:.3g}, {decision.ci_high:.3g}])")


def _plans(spec: StudySpec, cells: list[Cell], wanted: dict[str, int]) -> list[TrialPlan]:
    plans: list[TrialPlan] = []
    for cell in cells:
        if cell.label in wanted:
            plans += plans_for(spec, [cell], seeds=wanted[cell.label])
    return plans


def _values(spec: StudySpec, uri: str, cells: list[Cell]) -> pd.DataFrame:
    """This study's finished runs of these rows: ``row``, ``seed`` and the objective's value."""
    from ..tracking.reader import finished_runs  # MLflow: only when a sweep settles

    keys = {plan.config_key: plan.label for plan in plans_for(spec, cells, seeds=1)}
    metric = rank_column(spec.search.metrics[0])
    runs = finished_runs(spec.name, uri, [metric])
    runs = runs[runs["config_key"].isin(keys)]
    return pd.DataFrame({"row": runs["config_key"].map(keys), "seed": runs["seed"].astype(int),
                         "value": runs[metric]}).drop_duplicates(["row", "seed"], keep="last")

