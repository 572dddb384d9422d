"""A test hook that kills a trial's worker on purpose, so recovery tests fail when recovery breaks.

``ORCHESTRATE_FAULT=kill_after_epoch:N`` in the sweep driver's environment makes every trial
SIGKILL its own worker process once, right after it reported epoch ``N`` (and saved that
epoch's checkpoint when one was due): what the OOM killer or a lost node does to a worker. A
marker file in the trial's folder lets only the first attempt die. Not a user option.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Optional

from ray import tune

FAULT_ENV = "ORCHESTRATE_FAULT"
KILL_AFTER = "kill_after_epoch:"
MARKER_FILE = "fault-injected"


def kill_after_epoch_from_env() -> Optional[int]:
    """The epoch after which trials kill their worker, or None when no fault is asked for.

    Read in the driver and handed to trials, because workers of an already running Ray cluster
    do not see environment variables set after they started.
    """
    value = os.environ.get(FAULT_ENV)
    if not value:
        return None
    if not value.startswith(KILL_AFTER) or not value[len(KILL_AFTER):].isdigit():
        raise ValueError(f"{FAULT_ENV}={value!r}: expected {KILL_AFTER}N")
    return int(value[len(KILL_AFTER):])


def maybe_kill_worker(epoch: int, kill_after: Optional[int]) -> None:
    """SIGKILL this process if ``epoch`` is the one to die after and no earlier attempt died."""
    if kill_after is None or epoch != kill_after:
        return
    marker = Path(tune.get_context().get_trial_dir()) / MARKER_FILE
    if marker.exists():
        return
    marker.touch()
    os.kill(os.getpid(), signal.SIGKILL)
