"""Errors the CLI turns into one line and an exit code instead of a traceback."""

from __future__ import annotations


class OrchestrateError(Exception):
    """A runtime problem the user can fix (exit code 1)."""

    exit_code = 1


class SpecError(OrchestrateError):
    """An invalid spec, override or argument (exit code 2, nothing started)."""

    exit_code = 2


class ResumeError(OrchestrateError):
    """A sweep that must (or cannot) be resumed as asked (exit code 2, nothing started)."""

    exit_code = 2


class StudyNotFoundError(OrchestrateError):
    """A study, or the store holding it, that does not exist (exit code 2, nothing created)."""

    exit_code = 2


class OptionError(ValueError):
    """A bad option inside a validated section; ``subpath`` extends the section's key path."""

    def __init__(self, subpath: str, message: str) -> None:
        super().__init__(message)
        self.subpath = subpath
