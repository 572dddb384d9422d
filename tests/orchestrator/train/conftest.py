"""Helpers for comparing training runs: metrics without wall-clock timings, and a resumed run."""

from __future__ import annotations

from typing import Callable

import pytest

from orchestrator.train import Trainer

History = list[dict[str, float]]


def without_timings(history: History) -> History:
    return [{k: v for k, v in m.items() if not k.startswith("time/")} for m in history]


def history_after_resume(build: Callable[[], Trainer], epochs_before: int = 1) -> History:
    """Train ``epochs_before`` epochs, checkpoint, restore into a fresh trainer and finish there."""
    interrupted = build()
    for _ in range(epochs_before):
        interrupted.run_epoch()
    state = interrupted.state_dict()  # before building again: that reseeds the global RNGs
    resumed = build()
    resumed.load_state_dict(state)
    return without_timings(resumed.fit())


@pytest.fixture
def untimed() -> Callable[[History], History]:
    return without_timings


@pytest.fixture
def resumed_history() -> Callable[..., History]:
    return history_after_resume
