"""Ray Tune trial schedulers, one module each, registered by name (``search.scheduler.name``).

Each scheduler is a pydantic model of its own options (a literal ``name`` first) that validates
what it asks of the study, builds the Tune scheduler, describes itself for ``--dry-run`` and
says how many checkpoints a trial must keep. :data:`SchedulerChoice` is the discriminated union
of the registered ones, so an option of another scheduler is refused by name. Adding one is a
new module here plus its import below. Ray is imported only when a scheduler is built, so
validating a spec stays light.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field

from . import asha, hyperband, median, pbt  # noqa: F401  (register the schedulers)
from .base import DEFAULT_SCHEDULER, SCHEDULERS, register_scheduler


def _named(value: Any) -> Any:
    """``{grace_period: 2}`` means the default scheduler, as it always has."""
    if isinstance(value, dict) and "name" not in value:
        return {"name": DEFAULT_SCHEDULER, **value}
    return value


SchedulerChoice = Annotated[Union[tuple(SCHEDULERS.values())], Field(discriminator="name"),  # type: ignore[valid-type]
                            BeforeValidator(_named)]

__all__ = ["SCHEDULERS", "SchedulerChoice", "register_scheduler"]
