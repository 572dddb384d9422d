"""The design contract and its registry."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from ..errors import OptionError
from ..plans import Cell, TrialPlan, describe_plans, plans_for

if TYPE_CHECKING:
    from ..search_spec import SearchSpec
    from ..spec import SweepSpec
    from ..sweep import Sweep, SweepOutcome

# The search keys that belong to one design or another, with their "not set" values: a design
# refuses the ones it does not take, so a key meant for another kind is never silently ignored.
DESIGN_KEYS: dict[str, Any] = {"factors": {}, "baseline": None, "design": "one_at_a_time", "space": {},
                               "grid": {}, "confirm": None, "variants": {}, "reference": None}


class Design:
    """A study design. Subclasses set ``name`` and ``keys`` and implement ``cells`` (fixed
    designs) or override ``expand``/``run``/``describe`` (adaptive ones)."""

    name: ClassVar[str]
    keys: ClassVar[tuple[str, ...]] = ()  # the design-specific search keys it takes
    multi_objective: ClassVar[bool] = False  # whether it can optimise several metrics at once
    compares: ClassVar[bool] = False  # whether its rows are compared with a reference row

    def validate(self, search: SearchSpec) -> None:
        """Checks of the search section alone; raise ValueError or OptionError naming the key."""
        for key, unset in DESIGN_KEYS.items():
            if key not in self.keys and getattr(search, key) != unset:
                kinds = ", ".join(design.name for design in DESIGNS.values() if key in design.keys)
                raise ValueError(f"search.{key} is only for kind: {kinds} (this study is kind: {self.name})")
        if search.multi_objective and not self.multi_objective:
            raise OptionError("metric", "several metrics need kind: optuna (a multi-objective search)")
        if search.settle is not None:
            self._check_settle(search)

    def _check_settle(self, search: SearchSpec) -> None:
        if not self.compares:
            raise OptionError("settle", f"seeds until settled compares rows with a reference; kind {self.name} "
                                        "has none (use kind: ablation or variants)")
        if search.repeats < 2 or search.settle.max_repeats <= search.repeats:
            raise OptionError("settle.max_repeats", f"start from at least 2 seeds (repeats: {search.repeats}) "
                                                    "and allow more than that")
        if search.scheduler is not None:
            raise OptionError("settle", "a scheduler stops trials early; their seeds would never settle")

    def reference(self, spec: SweepSpec) -> str:
        """The label of the row the others are compared with."""
        raise NotImplementedError

    def cells(self, spec: SweepSpec) -> list[Cell]:
        raise NotImplementedError

    def expand(self, spec: SweepSpec) -> Optional[list[TrialPlan]]:
        """Every (configuration, seed) to run, each validated; None when trials are proposed
        while the sweep runs."""
        return plans_for(spec, self.cells(spec))

    def describe(self, spec: SweepSpec, plans: Optional[list[TrialPlan]]) -> list[str]:
        """The ``--dry-run`` listing."""
        return describe_plans(plans or [])

    def has_work(self, sweep: Sweep) -> bool:
        """Whether a design that proposes trials while it runs (``expand`` gave None) has any
        left; a study with nothing left opens no new, empty parent run."""
        return True

    def run(self, sweep: Sweep, plans: Optional[list[TrialPlan]], outcome: SweepOutcome) -> None:
        """The sweep's Tune stages: by default, every plan once, then seeds until settled."""
        sweep.run_plans(plans or [], name=self.name)
        if sweep.spec.search.settle is not None:
            from .settle import settle

            settle(self, sweep)


DESIGNS: dict[str, Design] = {}


def register_design(cls: type[Design]) -> type[Design]:
    """Class decorator: one instance per design name; a second design of that name is a bug."""
    if cls.name in DESIGNS:
        raise ValueError(f"design {cls.name!r} is registered twice")
    DESIGNS[cls.name] = cls()
    return cls


def get_design(name: str) -> Design:
    try:
        return DESIGNS[name]
    except KeyError:
        close = difflib.get_close_matches(name, DESIGNS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise OptionError("kind", f"unknown kind {name!r}{hint} (allowed: {', '.join(DESIGNS)})") from None
