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
from typing import TYPE_CHECKING

import pandas as pd

from ..plans import Cell, TrialPlan, plans_for
from ..tracking.names import SETTLE_FILE, rank_column

if TYPE_CHECKING:
    from ..search_spec import SettleSpec
    from ..spec import SweepSpec
    from ..sweep import Sweep
    from .base import Design

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
    from ..report.stats import compare  # the report's interval, so the table and the rule agree

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


def settle(design: Design, sweep: Sweep) -> None:
    """Rounds of seeds until every comparison is decided; the decisions go on the parent run."""
    spec, rule = sweep.spec, sweep.spec.search.settle
    reference, cells = design.reference(spec), design.cells(spec)
    attempted: set[str] = set()
    for round_number in range(1, rule.max_repeats + 1):
        decisions = decide(_values(sweep, cells), reference, rule)
        wanted = seeds_wanted(decisions, reference, rule)
        plans = sweep.pending(_plans(spec, cells, wanted))
        if not plans or {p.run_key for p in plans} <= attempted:  # nothing new (or only failed seeds)
            break
        attempted |= {p.run_key for p in plans}
        sweep.echo(f"settle round {round_number}: {len(plans)} more seeds for "
                   f"{', '.join(row for row in wanted if row != reference)}")
        sweep.run_plans(plans, name=f"settle-{round_number}")
    record = {"reference": reference, "rows": [asdict(decision) for decision in decisions]}
    sweep.tracker.log_dict(sweep.tracker.parent_run_id, record, SETTLE_FILE)
    for decision in decisions:
        sweep.echo(f"settled {decision.row}: {decision.verdict} after {decision.seeds} seeds "
                   f"(Δ {decision.delta:+.3g}, interval [{decision.ci_low:.3g}, {decision.ci_high:.3g}])")


def _plans(spec: SweepSpec, cells: list[Cell], wanted: dict[str, int]) -> list[TrialPlan]:
    plans: list[TrialPlan] = []
    for cell in cells:
        if cell.label in wanted:
            plans += plans_for(spec, [cell], seeds=wanted[cell.label])
    return plans


def _values(sweep: Sweep, cells: list[Cell]) -> pd.DataFrame:
    """This study's finished runs of these rows: ``row``, ``seed`` and the objective's value."""
    from ..tracking.reader import finished_runs

    spec = sweep.spec
    keys = {plan.config_key: plan.label for plan in plans_for(spec, cells, seeds=1)}
    metric = rank_column(spec.search.metrics[0])
    runs = finished_runs(spec.name, sweep.tracker.uri, [metric])
    runs = runs[runs["config_key"].isin(keys)]
    return pd.DataFrame({"row": runs["config_key"].map(keys), "seed": runs["seed"].astype(int),
                         "value": runs[metric]}).drop_duplicates(["row", "seed"], keep="last")

