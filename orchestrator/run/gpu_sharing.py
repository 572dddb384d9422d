"""Trials that share a GPU run under CUDA MPS, started and stopped by the sweep.

Without MPS, K processes on one GPU time-slice it and run slower together than one alone (0.92x
on an H200, issue 23); with an MPS control daemon their kernels run side by side (6.1x at K=8,
batch 128). So when ``resources.gpus_per_trial`` < 1 on CUDA, :func:`gpu_sharing` starts a
daemon with its own pipe and log folders (exported, so Ray workers started afterwards inherit
them) and stops it on the way out, after an exception or Ctrl-C too. A daemon that is already
running (an administrator's) is used and left alone. Where MPS cannot start, the caller runs one
trial per GPU and prints the outcome's one line; ``gpu_sharing: time_slice`` packs anyway.

A daemon runs apart from the sweep that started it, so a sweep killed with SIGKILL leaves its
daemon running: the next local sweep stops it (:func:`reap_killed`).

A control pipe (a socket, ``control``) alone is not a daemon: one that crashed (or was killed
with its node) leaves it behind, and a CUDA client that finds no daemon behind a pipe runs without MPS, silently
time-sliced. So a daemon counts as running only when it answers the control client.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

MPS_CONTROL = "nvidia-cuda-mps-control"
EXTRA_BIN_DIRS = (Path("/usr/local/nvidia/bin"),)  # where NVIDIA's container runtime mounts it
DEFAULT_PIPE_DIR = Path("/tmp/nvidia-mps")  # the daemon's pipe folder when none is set
PIPE_ENV, LOG_ENV = "CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY"
# Each local sweep's daemon folder, named by its process id. Short, under the temp folder: the
# daemon's control socket path must stay within the ~100 characters a Unix socket allows.
SWEEPS_DIR = Path(tempfile.gettempdir()) / f"orchestrate-mps-{os.getuid()}"
UNPACKED_RATIO = 0.92  # K time-sliced processes vs one, ResNet-20 on an H200 (issue 23)
START_WAIT_S = 10.0  # how long a started daemon may take to open its control pipe
COMMAND_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 5.0  # a live daemon answers in milliseconds; a pipe nobody reads may block the client
PROBE = "get_server_list"  # a control command that changes nothing
NO_DAEMON = "Cannot find MPS control daemon"  # what the control client says where none listens

# Outcome modes, recorded on the sweep's parent run.
NOT_SHARED, MPS_STARTED, MPS_EXISTING, TIME_SLICE, ONE_PER_GPU = (
    "not_shared", "mps_started", "mps_existing", "time_slice", "one_per_gpu")


@dataclass(frozen=True)
class Sharing:
    """How trials use the GPUs: whether they may share one, and one line saying so."""

    mode: str
    packed: bool  # False: run one trial per GPU, whatever gpus_per_trial asked
    message: str = ""
    environment: dict[str, str] = field(default_factory=dict)  # exported for the daemon's clients


UNSHARED = Sharing(NOT_SHARED, packed=False)  # no GPU shared: trials take what they ask for


def cuda_available() -> bool:
    import torch  # here: the MPS lifecycle itself needs no torch

    return torch.cuda.is_available()


def trial_share(sharing: Sharing, requested: float) -> float:
    """What a trial asks Ray for under ``sharing``: the requested share, or a whole GPU where
    sharing was asked but cannot run fast (no MPS): never slower than one trial per GPU. Only
    that outcome widens the share: a cluster's nodes run their own daemons (``NOT_SHARED`` here)."""
    return 1.0 if 0 < requested < 1 and sharing.mode == ONE_PER_GPU else requested


def find_control(path: Optional[str] = None) -> Optional[str]:
    """The ``nvidia-cuda-mps-control`` binary on PATH, else in NVIDIA's container folder."""
    found = shutil.which(MPS_CONTROL, path=path)
    if found:
        return found
    for folder in EXTRA_BIN_DIRS:
        candidate = folder / MPS_CONTROL
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def pipe_folder(environ: dict[str, str]) -> Path:
    """Where CUDA clients of this environment look for a daemon's control pipe."""
    return Path(environ.get(PIPE_ENV) or DEFAULT_PIPE_DIR)


def daemon_answers(control: str, pipe_dir: Path) -> bool:
    """Whether a control daemon answers at ``pipe_dir``: its control socket is there, and the
    client runs a harmless command without saying it found none (its words where the socket is
    left but nobody listens)."""
    if not (pipe_dir / "control").exists():
        return False
    try:
        done = subprocess.run([control], input=f"{PROBE}\n", env={**os.environ, PIPE_ENV: str(pipe_dir)},
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and NO_DAEMON not in done.stdout + done.stderr


def running_daemon(environ: dict[str, str], control: Optional[str]) -> tuple[Optional[Path], Optional[Path]]:
    """(the pipe folder of a daemon already running, the folder of a pipe no daemon answers at).
    Without the control binary a pipe cannot be asked, and is trusted as an administrator's."""
    pipe_dir = pipe_folder(environ)
    if not (pipe_dir / "control").exists():
        return None, None
    if control is None or daemon_answers(control, pipe_dir):
        return pipe_dir, None
    return None, pipe_dir


def gpus_in_mode(wanted: str) -> list[int]:
    """GPUs whose compute mode (``nvidia-smi --query-gpu=compute_mode``) is ``wanted``
    (``exclusive_process`` or ``prohibited``); empty when nvidia-smi is missing or says nothing."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=compute_mode", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return []
    modes = [line.strip().replace(" ", "_").lower() for line in done.stdout.splitlines() if line.strip()]
    return [index for index, mode in enumerate(modes) if mode == wanted]


def _listed(gpus: list[int]) -> str:
    return f"GPU{'s' if len(gpus) > 1 else ''} {', '.join(map(str, gpus))}"


def _unavailable(reason: str) -> Sharing:
    return Sharing(ONE_PER_GPU, packed=False, message=(
        f"MPS unavailable ({reason}): running one trial per GPU; packing without MPS would have run at "
        f"{UNPACKED_RATIO}x of that (resources.gpu_sharing: time_slice packs anyway)"))


def _daemon_env(workdir: Path) -> dict[str, str]:
    """The environment naming the pipe and log folders of a daemon started under ``workdir``."""
    folder = workdir.resolve() / "mps"
    return {PIPE_ENV: str(folder / "pipe"), LOG_ENV: str(folder / "log")}


def _left_behind(control: str, pipe_dir: Path) -> bool:
    """Whether a daemon of ours answers at ``pipe_dir`` (a GPU node's folder stays across restarts,
    and a node killed with SIGKILL leaves its daemon running); a pipe there that nobody answers is
    cleared, so that a new daemon's own pipe is the one waited for."""
    if daemon_answers(control, pipe_dir):
        return True
    for stale in pipe_dir.iterdir():
        stale.unlink()
    return False


def _start(control: str, env: dict[str, str]) -> str:
    """Start a daemon with the pipe and log folders of ``env``: "" or why it did not start."""
    pipe_dir = Path(env[PIPE_ENV])
    # Its words go to a file, not a pipe: the daemon it forks may keep the pipe open, and reading
    # a pipe to its end would then wait out the timeout and call a started daemon a failure.
    with tempfile.TemporaryFile("w+") as said:
        try:
            done = subprocess.run([control, "-d"], env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                  stdout=said, stderr=said, timeout=COMMAND_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as error:
            return f"{MPS_CONTROL} -d: {error}"
        said.seek(0)
        last = said.read().strip().splitlines()
    if done.returncode != 0:
        return f"{MPS_CONTROL} -d exited with {done.returncode}: {last[-1] if last else 'no message'}"
    deadline = time.monotonic() + START_WAIT_S
    while not (pipe_dir / "control").exists():
        if time.monotonic() > deadline:
            _stop(control, env)
            return f"the daemon opened no control pipe in {pipe_dir} within {START_WAIT_S:g} s"
        time.sleep(0.05)
    return ""


def _stop(control: str, env: dict[str, str]) -> None:
    """``echo quit | nvidia-cuda-mps-control`` addressed to our daemon's pipe folder."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([control], input="quit\n", env={**os.environ, **env}, capture_output=True, text=True,
                       timeout=COMMAND_TIMEOUT_S)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def reap_killed(base: Path, echo: Callable[[str], None]) -> None:
    """Stop the daemons of sweeps that were killed, and remove their folders. A daemon runs apart
    from the sweep that started it, so a SIGKILL (the OOM killer, a cluster's scheduler) leaves it
    running; its folder is named by the sweep's process id, and a folder whose process is gone is
    a killed sweep's. A live one is another sweep's, still running: left alone."""
    control = find_control()
    for folder in sorted(base.glob("*")):
        if not folder.name.isdigit() or _alive(int(folder.name)):
            continue
        env = _daemon_env(folder)
        if control is not None and daemon_answers(control, Path(env[PIPE_ENV])):
            _stop(control, env)
            echo(f"stopped the MPS daemon left running by a killed sweep (process {folder.name}) in {env[PIPE_ENV]}")
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def sweep_folder(echo: Callable[[str], None], base: Optional[Path] = None) -> Iterator[Path]:
    """This sweep's folder for the daemon it may start (``base``/its process id, default under
    :data:`SWEEPS_DIR`), after :func:`reap_killed`; removed when the block exits."""
    base = SWEEPS_DIR if base is None else base
    base.mkdir(parents=True, exist_ok=True)
    reap_killed(base, echo)
    folder = base / str(os.getpid())
    folder.mkdir(exist_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _exported(env: dict[str, str]) -> Iterator[None]:
    """Set ``env`` in this process (Ray's workers inherit it) and put the old values back."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def gpu_sharing(mode: str, *, gpus_per_trial: float | str, cuda: bool, workdir: Path) -> Iterator[Sharing]:
    """How trials share GPUs while the ``with`` block runs (see the module's docstring).

    ``mode`` is ``resources.gpu_sharing`` (``mps`` or ``time_slice``); ``gpus_per_trial`` a share,
    or ``auto``, which is measured under the sharing set up here and may pack; ``workdir`` holds
    the pipe and log folders of a daemon started here, which is stopped when the block exits, however.
    """
    if not cuda or not (gpus_per_trial == "auto" or 0 < gpus_per_trial < 1):
        yield UNSHARED
        return
    if mode == "time_slice":
        exclusive = gpus_in_mode("exclusive_process")
        if exclusive:  # one process per GPU: a second trial could not even open it
            yield Sharing(ONE_PER_GPU, packed=False, message=(
                f"{_listed(exclusive)} in Exclusive_Process compute mode, which admits one process without MPS: "
                "running one trial per GPU (resources.gpu_sharing: mps packs them)"))
            return
        yield Sharing(TIME_SLICE, packed=True, message=(
            f"trials share each GPU without MPS (resources.gpu_sharing: time_slice); measured {UNPACKED_RATIO}x "
            "of one trial per GPU on an H200"))
        return
    control = find_control()
    existing, stale = running_daemon(dict(os.environ), control)
    if existing is not None:
        yield Sharing(MPS_EXISTING, packed=True, message=f"trials share each GPU under the MPS daemon at {existing}")
        return
    ignored = f" (no daemon answers at the control pipe left in {stale})" if stale else ""
    if control is None:
        yield _unavailable(f"no {MPS_CONTROL} on PATH or in {', '.join(map(str, EXTRA_BIN_DIRS))}")
        return
    # Exclusive_Process is the mode NVIDIA recommends under MPS (the server is the one process);
    # Prohibited admits no process, the daemon's server included.
    prohibited = gpus_in_mode("prohibited")
    if prohibited:
        yield _unavailable(f"{_listed(prohibited)} in Prohibited compute mode")
        return
    env = _daemon_env(Path(workdir))
    for folder in env.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    taken_over = _left_behind(control, Path(env[PIPE_ENV]))
    why = "" if taken_over else _start(control, env)
    if why:
        yield _unavailable(why)
        return
    how = "left running by a killed run, taken over" if taken_over else "started"
    try:
        with _exported(env):
            yield Sharing(MPS_STARTED, packed=True, environment=env,
                          message=f"trials share each GPU under an MPS daemon {how} in {env[PIPE_ENV]}{ignored}")
    finally:
        _stop(control, env)
