"""Ray Tune trial schedulers, one module each, registered by name (``search.scheduler.name``).

Each scheduler is a pydantic model of its own options (a literal ``name`` first) that validates
what it asks of the study, builds the Tune scheduler, describes itself for ``--dry-run`` and
says how many checkpoints a trial must keep. :data:`SchedulerChoice` is the discriminated union
of the registered ones, so an option of another scheduler is refused by name. Adding one is a
new module here plus its import below. Ray is imported only when a scheduler is built, so
validating a spec stays light.
"""

from __future__ import annotations

from . import asha, hyperband, median, pbt  # noqa: F401  (register the schedulers)
from .base import DEFAULT_SCHEDULER, SCHEDULERS, register_scheduler

SchedulerChoice = SCHEDULERS.choice(DEFAULT_SCHEDULER)

__all__ = ["SCHEDULERS", "SchedulerChoice", "register_scheduler"]
