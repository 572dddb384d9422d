"""A reused trial worker keeps the collector off its imports, and gives the heap back only when
it holds much more than after its last trim."""

from __future__ import annotations

import gc
import weakref

import pytest

from orchestrator.run import cluster, trial


@pytest.fixture
def fresh_worker(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(trial, "WORKER", trial.WorkerMemory())
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


def _left_by_a_trial() -> weakref.ref:
    left = Node()
    alive = weakref.ref(left)
    del left
    return alive


@pytest.mark.skipif(not trial.sys.platform.startswith("linux"), reason="glibc's heap")
def test_a_worker_holding_much_more_than_after_its_last_trim_collects_and_trims(fresh_worker, monkeypatch) -> None:
    resident = iter([1000, 1000 + trial.TRIM_ABOVE, 900])  # after the first trim; the next start; after it
    monkeypatch.setattr(trial, "resident_bytes", lambda: next(resident))
    trial.release_freed_memory()
    frozen = gc.get_freeze_count()
    survivors = [Node.__new__(Node) for _ in range(1000)]  # made after the freeze, alive through the next call
    alive = _left_by_a_trial()
    trial.release_freed_memory()
    assert alive() is None and trial.WORKER.held_after_trim == 900
    # Not frozen a second time (that would add the survivors); frozen objects may only have died.
    assert gc.get_freeze_count() < frozen + len(survivors)


@pytest.mark.skipif(not trial.sys.platform.startswith("linux"), reason="glibc's heap")
def test_a_worker_holding_little_more_keeps_its_heap_for_the_next_trial(fresh_worker, monkeypatch) -> None:
    resident = iter([1000, 1000 + trial.TRIM_ABOVE - 1])
    monkeypatch.setattr(trial, "resident_bytes", lambda: next(resident))
    trial.release_freed_memory()
    gc.disable()  # the interpreter's own collections must not stand in for the one not made
    try:
        alive = _left_by_a_trial()
        trial.release_freed_memory()
        assert alive() is not None and trial.WORKER.held_after_trim == 1000
    finally:
        gc.enable()


def _ray_init_environment(monkeypatch) -> dict[str, str]:
    started = {}
    monkeypatch.setattr(cluster.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(cluster.ray, "init", lambda **options: started.update(options))
    cluster.connect_ray(None)
    return started["runtime_env"]["env_vars"]


def test_a_sweeps_workers_start_with_few_malloc_arenas(monkeypatch) -> None:
    # A trial runs on a new thread of its reused worker; without the cap each thread's arena
    # leaves its freed pages behind (glibc reads it only at the process's start).
    monkeypatch.delenv(cluster.ARENA_CAP, raising=False)
    assert _ray_init_environment(monkeypatch) == {cluster.ARENA_CAP: "2"}
    monkeypatch.setenv(cluster.ARENA_CAP, "4")
    assert _ray_init_environment(monkeypatch) == {cluster.ARENA_CAP: "4"}
