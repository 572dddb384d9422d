"""Seeds until settled: seeds go only to the comparisons still undecided, then the sweep stops.

The rounds run through the real store and the real decision code; only training is replaced by
known per-seed results, so which rows get seeds is decided by the statistics alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from orchestrator.designs import PlanStage, get_design
from orchestrator.designs.settle import BUDGET, DIFFERS, EQUIVALENT, decide
from orchestrator.errors import SpecError
from orchestrator.spec.plans import TrialPlan
from orchestrator.report.study_report import write_report
from orchestrator.study import parse_spec
from orchestrator.tracking import reader
from orchestrator.tracking.names import SETTLE_FILE
from orchestrator.tracking.writer import StudyTracker

NOISE = np.random.default_rng(7).normal(size=64)
# Top-1 per (row, seed): "better" is 5 points above the reference with little noise; "same" has
# the reference's mean and a wide spread, so its interval holds 0 and stays wider than the width.
TRUTH = {"baseline": lambda seed: 70.0 + 0.3 * NOISE[seed],
         "better": lambda seed: 75.0 + 0.3 * NOISE[seed + 16],
         "same": lambda seed: 70.0 + 3.0 * NOISE[seed + 32]}


def settle_spec(**settle) -> dict:
    return {"name": "settling", "model": {"name": "resnet20", "attention": "eca"},
            # The reference is not the first variant: a design that compared with the first row
            # instead would settle "baseline" against "better".
            "search": {"kind": "variants", "reference": "baseline", "repeats": 3,
                       "variants": {"better": {"train.optimizer.lr": 0.05}, "baseline": {},
                                    "same": {"model.attention": "se"}},
                       "settle": {"max_repeats": 9, "batch": 2, "width": 1.0, **settle}}}


class KnownResults:
    """A study state (what a design plans against) whose stages train nothing: each run's result
    is ``TRUTH``."""

    deadline, identities, resumed_factors = None, {}, []

    def __init__(self, spec, uri: str) -> None:
        self.spec, self.lines = spec, []
        self.echo = self.lines.append
        self.tracker = StudyTracker(spec.name, uri)
        self.uri = self.tracker.uri
        self.tracker.start_sweep(spec.model_dump(mode="json"), trial_count=None)
        self.rounds: list[dict[str, list[int]]] = []

    def pending(self, plans: list[TrialPlan]) -> list[TrialPlan]:
        done = reader.finished_run_keys(self.tracker.client, self.spec.name)
        return [plan for plan in plans if plan.run_key not in done]

    def record(self, data: dict, file: str) -> None:
        self.tracker.log_dict(self.tracker.parent_run_id, data, file)

    def tag(self, run_id: str, tags: dict[str, str]) -> None:
        self.tracker.set_tags(run_id, tags)

    def run_stage(self, stage: PlanStage) -> None:
        self.rounds.append({})
        for plan in stage.plans:
            self.rounds[-1].setdefault(plan.label, []).append(plan.seed)
            run_id = self.tracker.start_trial(plan.to_dict())
            self.tracker.finish_trial(run_id, status="FINISHED",
                                      summary={"summary/final_top1": TRUTH[plan.label](plan.seed)})


def test_seeds_go_to_the_undecided_row_only_and_the_sweep_stops(tmp_path: Path) -> None:
    spec = parse_spec(settle_spec())
    design = get_design("variants")
    sweep = KnownResults(spec, f"sqlite:///{tmp_path / 'mlflow.db'}")
    for stage in design.stages(sweep, design.expand(spec)):
        sweep.run_stage(stage)
    first, *later = sweep.rounds
    assert first == {"baseline": [0, 1, 2], "better": [0, 1, 2], "same": [0, 1, 2]}
    assert later == [{"baseline": [3, 4], "same": [3, 4]}, {"baseline": [5, 6], "same": [5, 6]},
                     {"baseline": [7, 8], "same": [7, 8]}]  # "better" was decided after 3 seeds
    record = reader.read_json_artifact(sweep.tracker.parent_run_id, SETTLE_FILE, uri=sweep.tracker.uri)
    verdicts = {row["row"]: (row["verdict"], row["seeds"]) for row in record["rows"]}
    assert verdicts == {"better": (DIFFERS, 3), "same": (BUDGET, 9)}
    assert any("settled same: max repeats after 9 seeds" in line for line in sweep.lines)
    sweep.tracker.end_sweep()
    report = write_report("settling", tmp_path / "report", uri=sweep.tracker.uri, log=False)
    table = (report.out / "settle.md").read_text()
    assert "| better | 3 |" in table and "differs" in table and "| same | 9 |" in table and "max repeats" in table


def test_a_narrow_interval_around_zero_decides_no_difference() -> None:
    import pandas as pd

    spec = parse_spec(settle_spec(width=2.0))
    seeds = range(4)
    differences = [0.1, -0.2, 0.15, -0.05]
    values = pd.DataFrame([{"row": "baseline", "seed": s, "value": 70.0} for s in seeds]
                          + [{"row": "same", "seed": s, "value": 70.0 + d} for s, d in zip(seeds, differences)])
    (decision,) = decide(values, "baseline", spec.search.settle)
    low, high = stats.t.interval(0.95, 3, loc=np.mean(differences), scale=stats.sem(differences))
    assert (decision.ci_low, decision.ci_high) == pytest.approx((low, high))
    assert decision.verdict == EQUIVALENT and decision.seeds == 4


@pytest.mark.parametrize(("search", "message"), [
    ({"kind": "grid", "factors": {"train.epochs": [1, 2]}}, "search.settle: not an option of kind grid"),
    ({"repeats": 1}, "search.settle.max_repeats: start from at least 2 seeds"),
    ({"settle": {"max_repeats": 3}}, "search.settle.max_repeats: start from at least 2 seeds"),
])
def test_settle_needs_a_reference_and_room_to_add_seeds(search: dict, message: str) -> None:
    raw = settle_spec()
    settle = {**raw["search"]["settle"], **search.pop("settle", {})}
    if search.get("kind") == "grid":
        raw["search"] = {"settle": settle, "repeats": 3, **search}
    else:
        raw["search"].update(search, settle=settle)
    with pytest.raises(SpecError, match=message):
        parse_spec(raw)
