"""The study's Tune trial scheduler, built from its spec for each Tune stage."""

from __future__ import annotations

from typing import Any, Optional

from ..spec.study import StudySpec


def build_scheduler(spec: StudySpec) -> Optional[Any]:
    """The study's Tune trial scheduler (None without one), on its first objective."""
    scheduler, search = spec.search.scheduler, spec.search
    if scheduler is None:
        return None
    return scheduler.build(epochs=spec.train.epochs, metric=search.metrics[0], mode=search.modes[0],
                           seed=spec.train.seed)
