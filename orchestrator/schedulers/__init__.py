"""Ray Tune trial schedulers, one module each, registered by name (``search.scheduler.name``).

A scheduler validates its options and what it asks of the study, builds the Tune scheduler,
describes itself for ``--dry-run`` and says how many checkpoints a trial must keep. Adding one
is one new module here plus its import below. Ray is imported only when a scheduler is built,
so validating a spec stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from . import asha, hyperband, median, pbt  # noqa: F401  (register the schedulers)
from .base import SCHEDULERS, Scheduler, get_scheduler, register_scheduler

if TYPE_CHECKING:
    from ..spec import SweepSpec

__all__ = ["SCHEDULERS", "Scheduler", "build_scheduler", "checkpoints_to_keep", "get_scheduler",
           "register_scheduler"]


def build_scheduler(spec: SweepSpec) -> Optional[Any]:
    """The study's Tune scheduler (None without one), on its first objective."""
    choice, search = spec.search.scheduler, spec.search
    if choice is None:
        return None
    return get_scheduler(choice.name).build(choice, epochs=spec.train.epochs, metric=search.metrics[0],
                                            mode=search.modes[0], seed=spec.train.seed)


def checkpoints_to_keep(spec: SweepSpec) -> int:
    choice = spec.search.scheduler
    return (get_scheduler(choice.name) if choice else Scheduler()).checkpoints_to_keep(spec)
