"""The runs a report is built from: read once, one attempt kept per (study, configuration, seed).

A resumed sweep re-runs what failed, so a (configuration, seed) may have several attempts. The
finished one counts if there is one (resume never re-runs it); otherwise the latest attempt
stands, so a seed that never finished is reported as pruned, failed or still running, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import pandas as pd

from ..tracking import read_trials

TOP1 = "summary/best_top1"
TOP5 = "summary/top5_at_best"
SUMMARY_METRICS = (
    TOP1, TOP5, "summary/best_epoch", "summary/params", "summary/macs", "summary/train_seconds",
)
PERCENT_METRICS = (TOP1, TOP5)  # accuracies in %: their intervals stay inside [0, 100]
OUTCOMES = ("finished", "pruned", "failed", "running")


@dataclass(frozen=True)
class StudyRuns:
    """One row per (study, run key); ``read`` counts every run fetched, superseded ones too."""

    frame: pd.DataFrame
    read: int
    studies: tuple[str, ...]

    @property
    def finished(self) -> pd.DataFrame:
        return self.frame[self.frame["outcome"] == "finished"]

    def tally(self) -> dict[str, int]:
        counts = self.frame["outcome"].value_counts()
        return {outcome: int(counts.get(outcome, 0)) for outcome in OUTCOMES}

    def describe(self) -> str:
        """``read 12 runs of quickstart: 8 finished, 1 pruned, 1 failed, 0 running (2 superseded)``."""
        tally = ", ".join(f"{n} {outcome}" for outcome, n in self.tally().items())
        superseded = self.read - len(self.frame)
        extra = f" ({superseded} superseded attempts)" if superseded else ""
        return f"read {self.read} runs of {', '.join(self.studies)}: {tally}{extra}"

    def of_study(self, study: str) -> StudyRuns:
        frame = self.frame[self.frame["study"] == study]
        return StudyRuns(frame, len(frame), (study,))


def as_studies(studies: str | Iterable[str]) -> tuple[str, ...]:
    """One study or several, each once."""
    return (studies,) if isinstance(studies, str) else tuple(dict.fromkeys(studies))


def load_runs(
    studies: str | Iterable[str],
    *,
    uri: Optional[str] = None,
    metrics: Sequence[str] = SUMMARY_METRICS,
    fields: Sequence[str] = (),
) -> StudyRuns:
    """Read every trial run of ``studies`` and keep one attempt per (study, run key)."""
    names = as_studies(studies)
    frames = [read_trials(name, uri=uri, metrics=metrics, fields=fields) for name in names]
    raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    raw = raw.astype({name: float for name in metrics})  # a metric no run logged is NaN, not None
    raw = raw.assign(_finished=raw["outcome"] == "finished")
    kept = (
        raw.sort_values(["_finished", "start_time"], kind="stable")
        .drop_duplicates(["study", "run_key"], keep="last")
        .drop(columns="_finished")
        .sort_values("start_time", kind="stable")
        .reset_index(drop=True)
    )
    kept["seed"] = pd.to_numeric(kept["seed"], errors="coerce").astype("Int64")
    return StudyRuns(kept, len(raw), names)
