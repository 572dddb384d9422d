"""Store writes off the caller's thread: the sweep driver's Tune loop queues its MLflow writes
instead of waiting on SQLite commits (tenths of a second per trial on a loaded machine, which sat
between one trial's end and the next one's start)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

from ..retry import GaveUp

T = TypeVar("T")


class WriteQueue:
    """Runs writes on one thread, in the order they were queued: one thread keeps one writer on
    the store, so no two writes contend for SQLite's lock. A failed write does not stop the later
    ones; ``flush`` raises it."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="mlflow-writer")
        self._failure: Optional[BaseException] = None

    def __reduce__(self) -> tuple[type[WriteQueue], tuple[()]]:
        # Tune pickles its callbacks with the experiment state: a thread does not pickle, and
        # queued writes belong to the process that queued them, so a copy starts empty.
        return WriteQueue, ()

    def put(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> Future:
        """Queue ``write(*args, **kwargs)`` behind every earlier write; returns its future (a later
        write may read its result: it ran first). Once a write gave up on an unreachable store,
        raise that instead: later writes could only be lost, and the caller (the sweep) should
        stop, to be resumed when the store is back."""
        self.check()
        future = self._thread.submit(write, *args, **kwargs)
        future.add_done_callback(self._keep_failure)
        return future

    def now(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``write(*args, **kwargs)`` behind every queued write, waited for: for a result the
        caller needs at once (a new run's id). Its failure is raised here."""
        return self._thread.submit(write, *args, **kwargs).result()

    def drain(self) -> None:
        """Wait until every queued write has run, whether or not it failed."""
        self._thread.submit(lambda: None).result()  # one thread: done after everything before it

    def flush(self) -> None:
        """Wait until every queued write has run; raise the first that failed since the last flush."""
        self.drain()
        self.check()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def check(self) -> None:
        """Raise the write that gave up on an unreachable store, if one did: it stays raised, as
        no later write can land either."""
        if isinstance(self._failure, GaveUp):
            raise self._failure

    def _keep_failure(self, done: Future) -> None:
        # Runs on the writer thread right after the write, so drain() sees what it sets.
        if self._failure is None and done.exception() is not None:
            self._failure = done.exception()
