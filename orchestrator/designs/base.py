"""The design contract and its registry."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Iterator, Optional

from pydantic import AfterValidator

from ..spec.plans import Cell, TrialPlan, describe_plans, plans_for
from ..spec.study import SearchOptions, StudySpec
from ..trial_schedulers import SchedulerChoice
from .settle import settle_stages
from .stages import PlanStage, Stage, StudyState


def _levels_listed(factors: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """An empty list of levels would silently drop every cell."""
    for name, levels in factors.items():
        if not levels:
            raise ValueError(f"factor {name!r} has no levels; list at least one value")
    return factors


# ``{dotted.key: [levels]}``: a design's factors, or an Optuna study's fixed grid axes.
Levels = Annotated[dict[str, list[Any]], AfterValidator(_levels_listed)]


class DesignOptions(SearchOptions):
    """Search options of a design: the shared keys, with ``scheduler`` any registered one."""

    scheduler: Optional[SchedulerChoice] = None  # type: ignore[valid-type]


class Design:
    """A study design. Subclasses set ``name`` and ``options`` (their own search model) and
    implement ``cells`` (fixed designs) or override ``expand``/``stages``/``describe``."""

    name: ClassVar[str]
    options: ClassVar[type[DesignOptions]]
    compares: ClassVar[bool] = False  # whether its rows are compared with a reference row

    def reference(self, spec: StudySpec) -> str:
        """The label of the row the others are compared with."""
        raise NotImplementedError

    def cells(self, spec: StudySpec) -> list[Cell]:
        raise NotImplementedError

    def expand(self, spec: StudySpec) -> Optional[list[TrialPlan]]:
        """Every (configuration, seed) to run, each validated; None when trials are proposed
        while the sweep runs."""
        return plans_for(spec, self.cells(spec))

    def trial_count(self, spec: StudySpec, plans: Optional[list[TrialPlan]]) -> int:
        """How many trials the study trains at most."""
        return len(plans or [])

    def describe(self, spec: StudySpec, plans: Optional[list[TrialPlan]]) -> list[str]:
        """The ``--dry-run`` listing."""
        return describe_plans(plans or [])

    def has_work(self, state: StudyState) -> bool:
        """Whether a design that proposes trials while it runs (``expand`` gave None) has any
        left; a study with nothing left opens no new, empty parent run."""
        return True

    def stages(self, state: StudyState, plans: Optional[list[TrialPlan]]) -> Iterator[Stage]:
        """The sweep's Tune stages, each planned after the one before has run: by default every
        pending plan once, then seeds until settled."""
        yield PlanStage(self.name, plans or [])
        settle = getattr(state.spec.search, "settle", None)
        if settle is not None:
            yield from settle_stages(self, state, settle)

    def pareto_front(self, state: StudyState) -> list[str]:
        """After the last stage: the runs on a multi-objective study's Pareto front, tagged."""
        return []


DESIGNS: dict[str, Design] = {}


def register_design(cls: type[Design]) -> type[Design]:
    """Class decorator: one instance per design name; a second design of that name is a bug."""
    if cls.name in DESIGNS:
        raise ValueError(f"design {cls.name!r} is registered twice")
    if cls.options.model_fields["kind"].default != cls.name:
        raise ValueError(f"design {cls.name!r}: its options' kind must default to its name")
    DESIGNS[cls.name] = cls()
    return cls


def get_design(name: str) -> Design:
    return DESIGNS[name]
