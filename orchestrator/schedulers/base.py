"""The scheduler contract and its registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..search_spec import SearchSpec, TrialSchedulerSpec
    from ..spec import SweepSpec


class Scheduler:
    """A Tune trial scheduler. ``epoch`` is the time axis, so budgets read in epochs; the metric
    is given to the scheduler itself (with an Optuna searcher, which owns the objective, Tune
    refuses one in ``TuneConfig``)."""

    name: ClassVar[str]

    def validate(self, choice: TrialSchedulerSpec) -> None:
        """Checks of the scheduler's own options; raise OptionError naming the option."""
        if choice.mutations:
            from ..errors import OptionError

            raise OptionError("mutations", "only the pbt scheduler mutates hyperparameters")

    def validate_search(self, search: SearchSpec) -> None:
        """What the scheduler asks of the search section."""

    def validate_study(self, spec: SweepSpec) -> None:
        """What the scheduler asks of the whole study (recipe, resources)."""

    def build(self, choice: TrialSchedulerSpec, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        raise NotImplementedError

    def describe(self, choice: TrialSchedulerSpec) -> str:
        raise NotImplementedError

    def checkpoints_to_keep(self, spec: SweepSpec) -> int:
        """The last two: a retried trial restores the newest one even while the next is written."""
        return 2


SCHEDULERS: dict[str, Scheduler] = {}


def register_scheduler(cls: type[Scheduler]) -> type[Scheduler]:
    if cls.name in SCHEDULERS:
        raise ValueError(f"scheduler {cls.name!r} is registered twice")
    SCHEDULERS[cls.name] = cls()
    return cls


def get_scheduler(name: str) -> Scheduler:
    from ..errors import OptionError

    if name not in SCHEDULERS:
        raise OptionError("name", f"unknown scheduler {name!r} (allowed: {', '.join(SCHEDULERS)})")
    return SCHEDULERS[name]
