"""The stages a design plans for the sweep to run, and what the sweep lets a design see.

A design turns a study (and what its store already holds) into stages: fixed plans, or a
searcher proposing trials, then any follow-up the results call for (seeds until settled, the
top configurations confirmed). The sweep drives the stages through :class:`StudyState`, the
small interface it hands the design; a design never imports the sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Protocol, Union

from ..spec.plans import TrialPlan
from ..spec.study import StudySpec


@dataclass(frozen=True)
class PlanStage:
    """A Tune stage that trains each plan exactly once."""

    name: str
    plans: list[TrialPlan]


@dataclass(frozen=True)
class SearchStage:
    """A Tune stage of ``samples`` trials proposed by ``searcher`` (a Ray Tune Searcher whose
    suggestions are whole plans, made on the driver)."""

    name: str
    samples: int
    searcher: Any


Stage = Union[PlanStage, SearchStage]


class StudyState(Protocol):
    """What a design may read of a running study, and note on its parent run."""

    spec: StudySpec
    uri: str  # the tracking URI
    deadline: Optional[float]  # the time budget's end (epoch seconds), or None
    identities: Mapping[str, dict[str, str]]  # Tune trial id -> its run key and MLflow run id
    resumed_factors: list[dict[str, Any]]  # the factors of interrupted runs this sweep continues

    def pending(self, plans: list[TrialPlan]) -> list[TrialPlan]:
        """``plans`` minus those the store holds as FINISHED."""

    def echo(self, line: str) -> None:
        """One line for the user."""

    def record(self, data: dict[str, Any], file: str) -> None:
        """A JSON file on the study's parent run."""

    def tag(self, run_id: str, tags: dict[str, str]) -> None:
        """Tags on one run of the study."""
