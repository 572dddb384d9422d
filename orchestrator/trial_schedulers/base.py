"""The trial scheduler registry: each scheduler is its own options model, registered by name."""

from __future__ import annotations

from ..spec.study import SchedulerOptions

DEFAULT_SCHEDULER = "asha"  # what ``search.scheduler`` without a name means
SCHEDULERS: dict[str, type[SchedulerOptions]] = {}


def register_scheduler(cls: type[SchedulerOptions]) -> type[SchedulerOptions]:
    """Class decorator, keyed by the model's literal ``name``; a second one of a name is a bug."""
    name = cls.model_fields["name"].default
    if name in SCHEDULERS:
        raise ValueError(f"scheduler {name!r} is registered twice")
    SCHEDULERS[name] = cls
    return cls
