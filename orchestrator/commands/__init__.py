"""What every subcommand shares: one-line errors with their exit codes."""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from typing import Any, Callable

import click

from ..errors import OrchestrateError

DEBUG_ENV = "ORCHESTRATE_DEBUG"
# Ray warns at every local start that token authentication is off: true of any single-user
# machine, and our output is the user's screen, not a security audit (``--debug`` shows it).
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def quiet_libraries() -> None:
    """Keep MLflow's INFO lines (database set-up, run links) and Ray's start-up warnings out of
    the output; the sweep's own lines say what happens. MLflow reads its level from the
    environment when imported, which also reaches Ray's worker processes."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Tune's own warnings suggest Tuner.restore and list trial folders; the sweep's summary
    # says what happened and how to resume in this tool's terms.
    logging.getLogger("ray.tune").setLevel(logging.ERROR)
    logging.getLogger(RAY_AUTH_LOGGER).setLevel(logging.ERROR)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an :class:`OrchestrateError` into ``error: ...`` and its exit code (2 for a bad spec)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OrchestrateError as exc:
            if os.environ.get(DEBUG_ENV):
                traceback.print_exc()
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:  # a bug or an unexpected environment: still one line by default
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
            sys.exit(1)

    return wrapper
