"""The sweep driver's MLflow calls outlast a tracking server that restarts (or a database that
fails over) during a sweep.

MLflow already retries each HTTP request (urllib3, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` times with
``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``; 7 and 2 by default: about four minutes of waits per
request). What it lacks, and this adds: a limit in time for the whole outage that the user sets
(``ORCHESTRATE_TRACKING_PATIENCE`` seconds), retries of a SQL store (a database URI or SQLite
has none), and an end: once the limit is spent the sweep stops with one line naming the server,
instead of each later request waiting its own four minutes. So MLflow's per-request retries
are shortened here (when the user has not set them) and the outage is waited out one level up.

A retried write sends the very same entities again (the metric's timestamp is taken once,
before the first try), and MLflow's SQL store ignores a metric row it already holds: a write
whose reply was lost is not recorded twice.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable, Optional

from ..retry import Backoff, GaveUp, Wait, call_with_retry, one_line, patience_from_env
from .store import redact

PATIENCE_ENV = "ORCHESTRATE_TRACKING_PATIENCE"
DEFAULT_PATIENCE = 300.0  # a server restart, or a database failover, takes well under 5 minutes
# Each request gives up after ~2 s of MLflow's own retries; the outage is waited out above it.
MLFLOW_HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})  # MLflow's own retry codes, less 500 (a bug stays)
_ERROR_CODE = re.compile(r" failed with error code (\d+)")


class TrackingUnavailable(GaveUp):
    """The tracking store stayed unreachable past ``ORCHESTRATE_TRACKING_PATIENCE``."""


def transient(error: BaseException) -> bool:
    """Whether waiting may help: the server or database is away, not the request wrong."""
    from mlflow.exceptions import MlflowException

    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if isinstance(error, MlflowException):
        if error.get_http_status_code() in TRANSIENT_STATUS:  # a SQL store's OperationalError is 503
            return True
        text = str(error)
        # MLflow's wrapping of a transport failure after its own retries: refused, reset, timeout.
        if text.startswith("API request to") and (" failed with exception " in text
                                                  or " failed with timeout exception " in text):
            return True
        code = _ERROR_CODE.search(text)  # a proxy's non-JSON error page
        return code is not None and int(code.group(1)) in TRANSIENT_STATUS
    import requests

    return isinstance(error, (requests.ConnectionError, requests.Timeout))


def shorten_mlflow_http_retries() -> None:
    """Let each MLflow request give up within seconds (unless the user chose otherwise), so the
    outage limit is kept by :class:`RetryingClient`. MLflow reads these at each request."""
    for name, value in MLFLOW_HTTP_RETRIES.items():
        os.environ.setdefault(name, value)


def warn(error: BaseException, delay: float) -> None:
    """One stderr line per retry: a long outage shows as it happens, not as a silent stall."""
    print(redact(f"tracking store unreachable ({type(error).__name__}: {one_line(error)}); "
                 f"retrying in {delay:.0f} s"), file=sys.stderr, flush=True)


class RetryingClient:
    """An ``MlflowClient`` whose every call is retried through an outage of the store. Once one
    call has given up, every later call gives up at once: the sweep is stopping, and its last
    writes (closing runs) must not each wait the whole limit again."""

    def __init__(self, client: Any, uri: str, *, backoff: Optional[Backoff] = None,
                 on_wait: Optional[Wait] = warn) -> None:
        shorten_mlflow_http_retries()
        self._client = client
        self._what = f"tracking store {redact(uri)}"
        self._backoff = backoff or Backoff(patience=patience_from_env(PATIENCE_ENV, DEFAULT_PATIENCE))
        self._on_wait = on_wait
        self._gave_up: Optional[TrackingUnavailable] = None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return lambda *args, **kwargs: self._call(attribute, args, kwargs)

    def _call(self, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if self._gave_up is not None:
            raise TrackingUnavailable(str(self._gave_up))
        try:
            return call_with_retry(lambda: method(*args, **kwargs), backoff=self._backoff, transient=transient,
                                   what=self._what, on_wait=self._on_wait, gives_up=TrackingUnavailable)
        except TrackingUnavailable as error:
            self._gave_up = TrackingUnavailable(redact(str(error)))  # MLflow's errors hold the URL
            raise self._gave_up from error.__cause__
