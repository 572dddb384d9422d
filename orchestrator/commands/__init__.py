"""What every subcommand shares: one-line errors with their exit codes."""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

import click

from ..errors import OrchestrateError

DEBUG_ENV = "ORCHESTRATE_DEBUG"
# Ray warns at every local start that token authentication is off: true of any single-user
# machine, and our output is the user's screen, not a security audit (``--debug`` shows it).
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
# Tune logs the ids of the trials that failed once they all ended, at ERROR level; the sweep's
# summary names each failed run with its reason just after.
RAY_TUNE_LOGGER, TUNE_INCOMPLETE = "ray.tune.tune", "Trials did not complete"


def _not_tunes_incomplete_list(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(TUNE_INCOMPLETE)


def quiet_libraries() -> None:
    """Keep MLflow's INFO lines (database set-up, run links) and Ray's start-up warnings out of
    the output; the sweep's own lines say what happens. MLflow reads its level from the
    environment when imported, which also reaches Ray's worker processes."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # Reading a spec.json or a summary is an artifact download, which MLflow draws as a
    # progress bar on stderr: a sweep's refusal would be four lines, not one.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Tune's own warnings suggest Tuner.restore and list trial folders; the sweep's summary
    # says what happened and how to resume in this tool's terms.
    logging.getLogger("ray.tune").setLevel(logging.ERROR)
    logging.getLogger(RAY_AUTH_LOGGER).setLevel(logging.ERROR)
    if _not_tunes_incomplete_list not in logging.getLogger(RAY_TUNE_LOGGER).filters:
        logging.getLogger(RAY_TUNE_LOGGER).addFilter(_not_tunes_incomplete_list)


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
        except BrokenPipeError:
            # The reader left (``| head``) with what it wanted: nothing to say. Output goes to
            # devnull so that flushing it on the way out cannot fail again (Python's own advice).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:  # a bug or an unexpected environment: still one line by default
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
            sys.exit(1)

    return wrapper


def in_existing_folder(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """A file option's callback: the file's folder must exist, checked before the command reads
    anything (click's ``Path`` checks only a file that exists)."""
    if value is not None and not Path(value).resolve().parent.is_dir():
        raise click.BadParameter(f"folder {Path(value).parent} does not exist")
    return value


class OneLineUsageError(click.ClickException):
    """A command line click refuses (an unknown option, a value outside its choices), shown as
    every other error here: one line, exit 2. Click's own shows the usage and a hint first."""

    exit_code = 2

    def __init__(self, refused: click.UsageError) -> None:
        command = refused.ctx.command_path if refused.ctx is not None else "orchestrate"
        super().__init__(f"{refused.format_message()} (see {command} --help)")

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineUsage(click.Group):
    """The top command: click's usage errors, its own or a subcommand's, as one line."""

    def make_context(self, info_name: Any, args: list[str], parent: Any = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None


# How click (8.2 on) shows a group's help when it is called without a command: left as it is.
HELP_AS_ERROR = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _one_line(refused: click.UsageError) -> click.ClickException:
    return refused if isinstance(refused, HELP_AS_ERROR) else OneLineUsageError(refused)
