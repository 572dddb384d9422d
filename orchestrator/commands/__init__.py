"""What every subcommand shares: one-line errors with their exit codes."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Any, Callable

import click

from ..errors import OrchestrateError

DEBUG_ENV = "ORCHESTRATE_DEBUG"


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
