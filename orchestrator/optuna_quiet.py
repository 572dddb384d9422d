"""Optuna's own line on making a study ("A new study created in Journal with name ...") among a
sweep's progress lines or a report's output: the user's commands print what happened themselves."""

from __future__ import annotations

import contextlib
from typing import Iterator

import optuna


@contextlib.contextmanager
def quiet_study_creation() -> Iterator[None]:
    """Optuna's warnings only, while the block makes (or loads) a study; its verbosity after."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
