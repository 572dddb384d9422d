"""The command's quick exit: its status and output kept, every exit handler run, and the
interpreter's finalisation skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# A command in the shape of the CLI's: a line on stdout, an exit handler registered after
# quick_exit's (as Ray's and MLflow's are) that prints one more, buffered (stdout is a pipe, and
# Python flushes it once, before the exit handlers), and an object that says so on stderr if the
# interpreter is finalised and frees it.
SCRIPT = """
import atexit, sys
from orchestrator import quick_exit

class Freed:
    def __del__(self):
        sys.stderr.write("finalised\\n")

kept = Freed()
atexit.register(lambda: print("an exit handler's line"))
print("the command's last line")
ends = lambda: sys.exit(eval(sys.argv[2]))
quick_exit.run(ends) if sys.argv[1] == "quick" else ends()
"""


def _end(tmp_path: Path, how: str, code: str) -> subprocess.CompletedProcess:
    script = tmp_path / "command.py"
    script.write_text(SCRIPT)
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, str(script), how, code], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], env=buffered, timeout=60)


@pytest.mark.parametrize(("code", "status"), [("None", 0), ("0", 0), ("2", 2), ("130", 130)])
def test_the_status_the_command_exits_with_is_the_process_status(tmp_path: Path, code: str, status: int) -> None:
    assert _end(tmp_path, "quick", code).returncode == status


def test_a_message_exit_prints_it_and_exits_1_as_python_does(tmp_path: Path) -> None:
    ended = _end(tmp_path, "quick", "'error: a message'")
    assert ended.returncode == 1
    assert ended.stderr.splitlines()[0] == "error: a message"


def test_buffered_output_and_later_exit_handlers_are_kept_and_finalisation_is_skipped(tmp_path: Path) -> None:
    ended = _end(tmp_path, "quick", "0")
    assert ended.stdout == "the command's last line\nan exit handler's line\n"
    assert ended.stderr == ""


def test_without_run_python_ends_as_usual(tmp_path: Path) -> None:
    """Importing the module (as tests and library users do through ``cli``) changes nothing."""
    ended = _end(tmp_path, "plain", "3")
    assert ended.returncode == 3
    assert ended.stdout == "the command's last line\nan exit handler's line\n"
    assert ended.stderr == "finalised\n"


def test_the_orchestrate_console_script_ends_through_the_quick_exit() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="orchestrate")
    assert script.value == "orchestrator.cli:entry"
