"""Waiting out a service that is away for a while: the tracking server restarting, a storage
mount gone for some seconds. Calls are retried with exponential backoff for a wall-clock
``patience``, then given up with one line naming what was unreachable.

Wall-clock, not a count of attempts: a user knows how long a restart or a failover may take
(minutes), not how many attempts that makes once the delays grow.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, TypeVar

from .errors import OrchestrateError, SpecError

T = TypeVar("T")
Wait = Callable[[BaseException, float], None]  # told the error and the delay before each retry


class GaveUp(OrchestrateError):
    """A service stayed unreachable past its patience. Exit code 75 (EX_TEMPFAIL): the same
    command can succeed once the service is back."""

    exit_code = 75


@dataclass(frozen=True)
class Backoff:
    """Delays of ``first``, ``first * factor``, ... capped at ``longest``, for at most
    ``patience`` seconds in all. The cap keeps the wait after a service comes back short."""

    patience: float = 300.0
    first: float = 1.0
    factor: float = 2.0
    longest: float = 15.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield min(delay, self.longest)
            delay *= self.factor


def patience_from_env(name: str, default: float) -> float:
    """Seconds from the environment variable ``name`` (``default`` when unset); a bad value is
    refused with one line."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses NaN
        raise SpecError(f"{name}={value!r}: expected a number of seconds >= 0")
    return seconds


def call_with_retry(call: Callable[[], T], *, backoff: Backoff, transient: Callable[[BaseException], bool],
                    what: str, on_wait: Optional[Wait] = None, gives_up: type[GaveUp] = GaveUp,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, retried while it raises an error ``transient`` accepts, until ``backoff``'s
    patience is spent; then ``gives_up`` (a :class:`GaveUp`) naming ``what``. Other errors are
    raised at once: a bad request stays bad however long one waits."""
    start = clock()
    delays = backoff.delays()
    while True:
        try:
            return call()
        except Exception as error:
            if not transient(error):
                raise
            waited = clock() - start
            if waited >= backoff.patience:
                raise gives_up(f"{what} unreachable for {waited:.0f} s "
                             f"({type(error).__name__}: {one_line(error)})") from error
            delay = min(next(delays), backoff.patience - waited)
            if on_wait is not None:
                on_wait(error, delay)
            sleep(delay)


def one_line(error: BaseException) -> str:
    """The first non-empty line of an error's text, shortened: enough to say what failed."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:300]
