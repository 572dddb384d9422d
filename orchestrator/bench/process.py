"""Running a bench side as its own command, with its memory sampled while it runs.

RSS is sampled every ``INTERVAL`` seconds with psutil: a peak shorter than that can be missed,
which for a training loop whose memory plateaus after the first batches changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
INTERVAL = 0.2
MB = 2**20
STOP_WAIT_S = 60.0  # how long a command told to stop may take to stop its trials, Ray and daemon


def subprocess_env() -> dict[str, str]:
    """This checkout first on the path of a bench's commands, and so of their Ray workers
    (which inherit it): an installed copy of the package elsewhere must not be measured."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


@dataclass(frozen=True)
class Finished:
    start: float  # time.time() at launch
    wall: float  # seconds, launch to exit
    stdout: str
    peak_mb: float  # the command's own process
    worker_peak_mb: float  # its largest Ray trial worker (0 without Ray)


def is_trial_worker(process: psutil.Process) -> bool:
    """A Ray worker running a trial (idle workers are titled ``ray::IDLE``)."""
    try:
        title = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return title.startswith("ray::") and "IDLE" not in title


def _sample(root: psutil.Process, peaks: dict[str, float], done: threading.Event) -> None:
    while not done.is_set():
        try:
            peaks["own"] = max(peaks["own"], root.memory_info().rss / MB)
            for child in root.children(recursive=True):
                if is_trial_worker(child):
                    peaks["worker"] = max(peaks["worker"], child.memory_info().rss / MB)
        except psutil.Error:  # a process ended between listing and reading it
            pass
        done.wait(INTERVAL)


def run(argv: list[str], folder: Path) -> Finished:
    """Run ``argv`` in ``folder`` to its end, sampling its memory; raise with its stderr on failure."""
    start = time.time()
    command = subprocess.Popen(argv, cwd=folder, env=subprocess_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    peaks, done = {"own": 0.0, "worker": 0.0}, threading.Event()
    sampler = threading.Thread(target=_sample, args=(psutil.Process(command.pid), peaks, done))
    sampler.start()
    try:
        out, errors = command.communicate()
    except BaseException:
        # The bench is stopping (a time limit's SIGTERM, Ctrl-C): stop the command too, rather
        # than leave a sweep training on the GPU after the bench that started it has gone.
        command.terminate()
        try:
            command.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            command.kill()
        raise
    finally:
        done.set()
        sampler.join()
    wall = time.time() - start
    if command.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:4])} exited {command.returncode}: {errors.strip()[-2000:]}")
    return Finished(start, wall, out, peaks["own"], peaks["worker"])
