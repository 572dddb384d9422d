"""The ``orchestrate`` command ends with its exit status once it is done, without CPython's
finalisation.

A sweep's driver holds torch, timm, Ray, MLflow, SciPy and everything they made. After the
command's last line, CPython's finalisation frees all of it object by object and module by
module: 2.5 s on the 2-core machine between a sweep's summary and the shell's prompt
(docs/performance.md), for memory the system takes back at once when the process ends. CPython
has no switch to skip it; ``os._exit`` is the way.

Everything else of a normal exit still happens before: non-daemon threads are joined, then every
other exit handler runs (Ray's shutdown, MLflow's and logging's flushes, temporary folders
removed), since exit handlers run last-registered first and this module registers its handler
before the command imports anything that registers one (``cli`` imports it first).
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Callable, Optional

_status: Optional[int] = None  # set by ``run``; None (tests, library use): Python ends as usual


def run(command: Callable[[], object]) -> None:
    """Call ``command``, which ends by ``sys.exit`` (a Click command in standalone mode does),
    and keep the status it exits with for the last exit handler. Any other exception ends the
    process the usual way, traceback and all."""
    global _status
    try:
        command()
    except SystemExit as done:
        _status = exit_status(done.code)
        raise


def exit_status(code: object) -> int:
    """The status Python gives ``sys.exit(code)``: None is 0, an int itself, anything else (a
    message, which Python prints to stderr) 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _end() -> None:
    if _status is None:
        return
    for stream in (sys.stdout, sys.stderr):  # os._exit drops what the streams still buffer
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a pipe nobody reads any more: nothing to keep
            pass
    os._exit(_status)


atexit.register(_end)
