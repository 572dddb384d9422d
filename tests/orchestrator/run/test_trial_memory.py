"""A reused trial worker returns each trial's garbage without rescanning its imports."""

from __future__ import annotations

import gc
import weakref

import pytest

from orchestrator.run import trial


@pytest.fixture
def fresh_worker():
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite collects as usual


class Node:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_the_first_trial_freezes_what_the_imports_made(fresh_worker) -> None:
    scanned_before = len(gc.get_objects())
    trial.release_freed_memory()
    assert gc.get_freeze_count() > 0.9 * scanned_before
    assert len(gc.get_objects()) < 0.1 * scanned_before


def test_a_later_trial_still_collects_the_cycles_trials_left(fresh_worker) -> None:
    trial.release_freed_memory()
    frozen = gc.get_freeze_count()
    survivors = [Node.__new__(Node) for _ in range(1000)]  # made after the freeze, alive through the next call
    left = Node()
    alive = weakref.ref(left)
    del left
    trial.release_freed_memory()
    # Not frozen a second time (that would add the survivors); frozen objects may only have died.
    assert alive() is None and gc.get_freeze_count() < frozen + len(survivors)
