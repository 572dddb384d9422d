"""Reaching Ray: join a cluster by address, or start Ray on this machine."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from typing import Iterator, Optional

import ray

from ..errors import OrchestrateError


def check_ray_address(address: str, *, timeout: float = 5.0) -> None:
    """Fail in seconds on an address nothing listens on: ``ray.init`` retries for minutes."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise OrchestrateError(f"cannot reach a Ray cluster at {address} ({exc}); "
                               f"start one with `ray start --head` or drop --address") from None


@contextlib.contextmanager
def ray_stopped_at_end() -> Iterator[None]:
    """Shut down, when the block ends, the Ray that ``connect_ray`` started or joined inside it;
    a Ray already connected before (a test's) is left alone.

    Done here rather than by Ray's own exit handler, which first sleeps half a second for the
    workers' log lines, which ``log_to_driver=False`` never sends; and done inside the sweep,
    so that a GPU's trial workers are gone before its MPS daemon stops."""
    connected = ray.is_initialized()
    try:
        yield
    finally:
        if not connected and ray.is_initialized():
            ray.shutdown()


def quiet_tune_defaults() -> None:
    """Tune's defaults a sweep does without (a user's own setting of either variable wins)."""
    # Tune's newer console output ignores verbose=0; the legacy one honours it, and the
    # ProgressPrinter callback is the display.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Tune's default CSV and TensorBoard loggers write every result again for nobody (MLflow holds
    # the metrics), with a TensorBoard writer thread per trial: driver CPU taken from the trials.
    # The JSON results file stays (Sweep.callbacks): each attempt's record beside its checkpoints.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")


# Tune runs each trial of a reused worker on a new thread, and glibc gives a new thread a new
# malloc arena (up to 8 per core), so a worker's trials spread over arenas whose freed pages no
# other thread reuses: measured on 200 one-epoch trials, a worker grew ~35 MB a trial and each
# trial faulted its pages in afresh (30 ms of CPU a trial, docs/performance.md). glibc reads the
# cap only when the process starts, hence the job's environment, which Ray sets on every worker
# it starts, on any node (a cap set in the driver's own environment wins).
ARENA_CAP = "MALLOC_ARENA_MAX"


def worker_env() -> dict[str, str]:
    """What a sweep's Ray workers get in their environment at start."""
    return {ARENA_CAP: os.environ.get(ARENA_CAP, "2")}


def cluster_address(address: Optional[str]) -> Optional[str]:
    """The Ray cluster a sweep joins: ``address``, else ``$RAY_ADDRESS``; None: its own local Ray."""
    return address or os.environ.get("RAY_ADDRESS")


def connect_ray(address: Optional[str]) -> None:
    """Join ``address`` (or ``$RAY_ADDRESS``), else start Ray on this machine's CPUs and GPUs."""
    if ray.is_initialized():
        return
    address = cluster_address(address)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,  # trial output goes to Ray's logs; the driver prints progress
            logging_level=logging.WARNING,
            runtime_env={"env_vars": worker_env()},
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise OrchestrateError(f"cannot connect to Ray at {address}: {exc}") from None
    sigterm_as_ctrl_c()


def sigterm_as_ctrl_c() -> None:
    """Handle SIGTERM (``timeout``, ``docker stop``, a batch scheduler's preemption) as Ctrl-C:
    set by the sweep command before it starts anything, and again once Ray is up.

    ``ray.init`` installs a SIGTERM handler that raises ``SystemExit(1)`` wherever the driver is:
    the sweep ended with no word and the exit code of a failed trial. Passed to whatever handles
    SIGINT when it comes instead: Tune's handler during a stage (its trials stop, their runs are
    marked KILLED, and the sweep prints how to resume), else Python's KeyboardInterrupt (also
    where SIGINT is ignored, as in a background job, which SIGTERM must still stop)."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set there; Ray's stays

    def as_ctrl_c(signum: int, frame: object) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if not callable(handler):
            raise KeyboardInterrupt
        handler(signal.SIGINT, frame)

    signal.signal(signal.SIGTERM, as_ctrl_c)
