"""The MPS daemon's lifecycle around a sweep, with fake NVIDIA tools that record their calls."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from orchestrator.run import gpu_sharing
from orchestrator.run.gpu_sharing import (MPS_EXISTING, MPS_STARTED, NOT_SHARED, ONE_PER_GPU, PIPE_ENV, TIME_SLICE,
                                      gpu_sharing as sharing, trial_share)

# Records each start and quit; ``-d`` opens the control pipe (a file here) as the daemon does and
# marks the daemon alive, ``quit`` on stdin closes both; a command with no live daemon behind the
# pipe fails as the real client does; FAKE_MPS_FAIL makes the start fail as without permission.
FAKE_CONTROL = """#!/bin/sh
if [ "$1" = "-d" ]; then
  echo "start pipe=$CUDA_MPS_PIPE_DIRECTORY log=$CUDA_MPS_LOG_DIRECTORY" >> "$FAKE_CALLS"
  if [ -n "$FAKE_MPS_FAIL" ]; then echo "An instance of this daemon is already running: permission denied" >&2; exit 1; fi
  touch "$CUDA_MPS_PIPE_DIRECTORY/control" "$CUDA_MPS_PIPE_DIRECTORY/alive"
  [ -n "$FAKE_MPS_HOLD" ] && sleep "$FAKE_MPS_HOLD" &  # a forked daemon keeping its parent's output open
  exit 0
fi
read command
[ -e "$CUDA_MPS_PIPE_DIRECTORY/alive" ] || { echo "Cannot find MPS control daemon process" >&2; exit "${FAKE_NO_DAEMON_EXIT:-1}"; }
[ "$command" = "get_server_list" ] && exit 0
echo "$command pipe=$CUDA_MPS_PIPE_DIRECTORY" >> "$FAKE_CALLS"
rm -f "$CUDA_MPS_PIPE_DIRECTORY/control" "$CUDA_MPS_PIPE_DIRECTORY/alive"
"""
FAKE_SMI = """#!/bin/sh
echo "$FAKE_COMPUTE_MODE"
"""


def _script(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the fake tools; returns the file their calls are recorded in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir, "nvidia-cuda-mps-control", FAKE_CONTROL)
    _script(bin_dir, "nvidia-smi", FAKE_SMI)
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("FAKE_CALLS", str(calls))
    monkeypatch.setenv("FAKE_COMPUTE_MODE", "Default")
    monkeypatch.delenv(PIPE_ENV, raising=False)
    monkeypatch.setattr(gpu_sharing, "DEFAULT_PIPE_DIR", tmp_path / "no-admin-daemon")
    monkeypatch.setattr(gpu_sharing, "EXTRA_BIN_DIRS", ())
    monkeypatch.setattr(gpu_sharing, "SWEEPS_DIR", tmp_path / "sweeps")
    return calls


def lines(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def test_a_shared_gpu_gets_a_daemon_that_is_stopped_at_the_end(tools: Path, tmp_path: Path) -> None:
    with sharing("mps", gpus_per_trial=0.25, cuda=True, workdir=tmp_path / "study") as outcome:
        pipe = Path(os.environ[PIPE_ENV])  # exported for Ray's workers
        assert outcome.mode == MPS_STARTED and outcome.packed
        assert pipe == (tmp_path / "study" / "mps" / "pipe").resolve() and (pipe / "control").exists()
        assert lines(tools) == [f"start pipe={pipe} log={pipe.parent / 'log'}"]
    assert lines(tools)[1:] == [f"quit pipe={pipe}"] and not (pipe / "control").exists()
    assert PIPE_ENV not in os.environ


def test_a_daemon_that_keeps_its_parents_output_open_is_started_without_waiting_for_it(
        tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the starting command's output to its end would wait for the forked daemon to exit:
    out of time, a started daemon would be called a failure and its trials run one per GPU."""
    monkeypatch.setenv("FAKE_MPS_HOLD", "8")
    monkeypatch.setattr(gpu_sharing, "COMMAND_TIMEOUT_S", 3.0)
    with sharing("mps", gpus_per_trial=0.25, cuda=True, workdir=tmp_path / "study") as outcome:
        assert outcome.mode == MPS_STARTED, outcome.message


@pytest.mark.parametrize("interrupt", [RuntimeError("a trial failed"), KeyboardInterrupt()])
def test_the_daemon_is_stopped_after_an_error_or_ctrl_c(tools: Path, tmp_path: Path, interrupt) -> None:
    with pytest.raises(type(interrupt)):
        with sharing("mps", gpus_per_trial=0.5, cuda=True, workdir=tmp_path):
            raise interrupt
    assert [line.split()[0] for line in lines(tools)] == ["start", "quit"]


def test_an_administrators_daemon_is_used_and_left_alone(tools: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    admin = tmp_path / "admin-pipe"
    admin.mkdir()
    (admin / "control").touch()
    (admin / "alive").touch()
    monkeypatch.setattr(gpu_sharing, "DEFAULT_PIPE_DIR", admin)
    with sharing("mps", gpus_per_trial=0.125, cuda=True, workdir=tmp_path) as outcome:
        assert outcome.mode == MPS_EXISTING and outcome.packed and str(admin) in outcome.message
    assert lines(tools) == [] and (admin / "control").exists()


@pytest.mark.parametrize("client_exit", ["1", "0"])  # the client's words count, whatever its exit code
def test_a_pipe_no_daemon_answers_at_is_not_taken_for_one(tools: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, client_exit: str) -> None:
    """A crashed administrator's daemon leaves its pipe: a client there would run without MPS,
    silently. The sweep starts its own and says why it did not use the pipe it found."""
    monkeypatch.setenv("FAKE_NO_DAEMON_EXIT", client_exit)
    crashed = tmp_path / "crashed-admin-pipe"
    crashed.mkdir()
    (crashed / "control").touch()
    monkeypatch.setattr(gpu_sharing, "DEFAULT_PIPE_DIR", crashed)
    with sharing("mps", gpus_per_trial=0.25, cuda=True, workdir=tmp_path / "study") as outcome:
        assert outcome.mode == MPS_STARTED and Path(os.environ[PIPE_ENV]) != crashed
        assert f"no daemon answers at the control pipe left in {crashed}" in outcome.message
    assert [line.split()[0] for line in lines(tools)] == ["start", "quit"]
    assert (crashed / "control").exists()  # not ours to clear


def test_a_nodes_own_folder_takes_over_its_killed_daemon_and_clears_a_dead_pipe(tools: Path, tmp_path: Path) -> None:
    """A GPU node's folder outlives the node: after a SIGKILL its daemon may still run there (taken
    over and stopped with the node), or only its pipe be left (cleared, and a new daemon started)."""
    pipe = tmp_path / "node" / "mps" / "pipe"
    pipe.mkdir(parents=True)
    (pipe / "control").touch()
    (pipe / "alive").touch()
    with sharing("mps", gpus_per_trial=0.5, cuda=True, workdir=tmp_path / "node") as outcome:
        assert outcome.mode == MPS_STARTED and "left running by a killed run, taken over" in outcome.message
    assert lines(tools) == [f"quit pipe={pipe.resolve()}"]  # not started again, stopped at the end
    (pipe / "control").touch()  # a daemon that died with its node: its pipes alone are left
    (pipe / "control_lock").touch()
    with sharing("mps", gpus_per_trial=0.5, cuda=True, workdir=tmp_path / "node") as outcome:
        assert outcome.mode == MPS_STARTED and "started in" in outcome.message
        assert not (pipe / "control_lock").exists()  # cleared before the new daemon opened its pipe
    assert [line.split()[0] for line in lines(tools)] == ["quit", "start", "quit"]


def test_a_killed_sweeps_daemon_is_stopped_by_the_next_sweep_and_a_running_sweeps_left_alone(
        tools: Path, tmp_path: Path) -> None:
    """A SIGKILLed sweep cannot stop its daemon; the next sweep on the machine finds its folder
    (named by a process that is gone) and stops it. A folder of a live process is another sweep's."""
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    base = tmp_path / "sweeps"
    for pid in (gone.pid, os.getppid()):
        pipe = base / str(pid) / "mps" / "pipe"
        pipe.mkdir(parents=True)
        (pipe / "control").touch()
        (pipe / "alive").touch()
    echoed: list[str] = []
    with gpu_sharing.sweep_folder(echoed.append, base) as folder:
        assert folder == base / str(os.getpid()) and folder.is_dir()
        assert lines(tools) == [f"quit pipe={base / str(gone.pid) / 'mps' / 'pipe'}"]
        assert echoed == [f"stopped the MPS daemon left running by a killed sweep (process {gone.pid}) in "
                          f"{base / str(gone.pid) / 'mps' / 'pipe'}"]
        assert not (base / str(gone.pid)).exists() and (base / str(os.getppid()) / "mps" / "pipe" / "alive").exists()
    assert not folder.exists()  # its own folder goes with it


def test_without_the_binary_trials_run_one_per_gpu_with_one_line(tools: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with sharing("mps", gpus_per_trial=0.25, cuda=True, workdir=tmp_path) as outcome:
        assert outcome.mode == ONE_PER_GPU and not outcome.packed
    assert "no nvidia-cuda-mps-control" in outcome.message and "0.92x" in outcome.message
    assert "\n" not in outcome.message and trial_share(outcome, 0.25) == 1.0


def test_a_refused_start_falls_back_and_says_why(tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MPS_FAIL", "1")
    with sharing("mps", gpus_per_trial=0.25, cuda=True, workdir=tmp_path) as outcome:
        assert outcome.mode == ONE_PER_GPU and "permission denied" in outcome.message
        assert PIPE_ENV not in os.environ
    assert [line.split()[0] for line in lines(tools)] == ["start"]


def test_compute_modes(tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_COMPUTE_MODE", "Prohibited")
    with sharing("mps", gpus_per_trial=0.25, cuda=True, workdir=tmp_path) as outcome:
        assert outcome.mode == ONE_PER_GPU and "GPU 0 in Prohibited" in outcome.message
    monkeypatch.setenv("FAKE_COMPUTE_MODE", "Exclusive_Process")
    with sharing("time_slice", gpus_per_trial=0.25, cuda=True, workdir=tmp_path) as outcome:
        assert outcome.mode == ONE_PER_GPU and "Exclusive_Process" in outcome.message
    with sharing("mps", gpus_per_trial=0.25, cuda=True, workdir=tmp_path) as outcome:
        assert outcome.mode == MPS_STARTED  # MPS's own recommended mode: the server is the one process
    assert lines(tools)[0].startswith("start")


def test_time_slice_packs_without_a_daemon_and_whole_gpus_need_none(tools: Path, tmp_path: Path) -> None:
    with sharing("time_slice", gpus_per_trial=0.25, cuda=True, workdir=tmp_path) as outcome:
        assert outcome.mode == TIME_SLICE and outcome.packed and trial_share(outcome, 0.25) == 0.25
    for share, cuda in ((1.0, True), (0.0, True), (0.25, False)):
        with sharing("mps", gpus_per_trial=share, cuda=cuda, workdir=tmp_path) as outcome:
            assert outcome.mode == NOT_SHARED
    assert lines(tools) == []


@pytest.mark.gpu
def test_a_real_daemon_serves_a_cuda_process_and_is_gone_afterwards(tmp_path: Path) -> None:
    import subprocess
    import sys

    control = gpu_sharing.find_control()
    if control is None or gpu_sharing.running_daemon(dict(os.environ), control)[0] is not None:
        pytest.skip("needs nvidia-cuda-mps-control and no daemon already running")
    import socket

    stale = tmp_path / "stale"
    stale.mkdir()
    with socket.socket(socket.AF_UNIX) as left:  # what a killed daemon leaves: its socket, nobody listening
        left.bind(str(stale / "control"))
    assert not gpu_sharing.daemon_answers(control, stale)
    with sharing("mps", gpus_per_trial=0.5, cuda=True, workdir=tmp_path) as outcome:
        if not outcome.packed:
            pytest.skip(outcome.message)
        pipe = Path(os.environ[PIPE_ENV])
        assert gpu_sharing.daemon_answers(control, pipe)
        # A CUDA client that finds no daemon runs without MPS, silently: the probe asks the daemon
        # for its servers while it holds its context, and one must be serving it.
        holding = (f"import subprocess, torch; print(torch.ones(1, device='cuda').item()); "
                   f"print(subprocess.run([{control!r}], input={gpu_sharing.PROBE!r}, capture_output=True, "
                   f"text=True).stdout.split())")
        probe = subprocess.run([sys.executable, "-c", holding], capture_output=True, text=True,
                               timeout=120)  # inherits the exported folders
        assert probe.returncode == 0, probe.stderr
        value, servers = probe.stdout.splitlines()[-2:]
        assert value == "1.0", probe.stdout
        assert re.fullmatch(r"\['\d+'(, '\d+')*\]", servers), f"no MPS server served the probe: {probe.stdout}"
    assert not (pipe / "control").exists()


@pytest.mark.parametrize("ending", ["finished", "ctrl_c"])
def test_a_sweep_sharing_a_gpu_runs_its_trials_under_the_daemon_and_stops_it(
        tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str) -> None:
    """run_sweep starts the daemon before Ray (its pipe folder exported for Ray's workers), the
    trials ask for their share of a GPU, and the daemon is stopped however the sweep ends."""
    from orchestrator.run import sweep as sweep_module
    from orchestrator.study import parse_spec

    seen: dict = {}

    def run(spec, sharing, **kwargs):
        seen.update(mode=sharing.mode, pipe=os.environ.get(PIPE_ENV), calls=lines(tools),
                    share=trial_share(sharing, spec.resources.gpus_per_trial))
        if ending == "ctrl_c":
            raise KeyboardInterrupt
        return "outcome"

    monkeypatch.setattr(sweep_module, "prepare", lambda spec, **kwargs: ([], {}, {}))
    monkeypatch.setattr(sweep_module, "cuda_available", lambda: True)
    monkeypatch.setattr(sweep_module, "_run", run)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    spec = parse_spec({"name": "shared", "resources": {"gpus_per_trial": 0.25}})
    echoed: list[str] = []
    if ending == "ctrl_c":
        with pytest.raises(KeyboardInterrupt):
            sweep_module.run_sweep(spec, echo=echoed.append)
    else:
        assert sweep_module.run_sweep(spec, echo=echoed.append) == "outcome"
    assert seen["mode"] == MPS_STARTED and seen["share"] == 0.25
    own = (tmp_path / "sweeps" / str(os.getpid())).resolve()  # named by the sweep's process: found if it is killed
    assert seen["pipe"] == str(own / "mps" / "pipe") and not own.exists()
    assert seen["calls"] == [f"start pipe={seen['pipe']} log={Path(seen['pipe']).parent / 'log'}"]
    assert lines(tools)[-1] == f"quit pipe={seen['pipe']}" and os.environ.get(PIPE_ENV) is None
    assert echoed == [f"trials share each GPU under an MPS daemon started in {seen['pipe']}"]


def packed_sweep_outcome(monkeypatch: pytest.MonkeyPatch, **run_kwargs: Any) -> tuple[dict, list[str]]:
    """A sweep of ``gpus_per_trial: 0.25`` on a CUDA machine, stopped before Ray: the sharing mode
    it chose, the share its trials would ask Ray for (and its wait line name), and the lines it printed."""
    from orchestrator.run import capacity
    from orchestrator.run import sweep as sweep_module
    from orchestrator.study import parse_spec

    seen: dict = {}

    def run(spec, sharing, *, echo, **kwargs) -> None:
        sweep = sweep_module.Sweep(spec, echo, resumable={}, sharing=sharing)
        waiting = next(callback for callback in sweep.callbacks if isinstance(callback, capacity.PendingReporter))
        assert waiting.asked["GPU"] == sweep.gpu_share  # the wait line names what the trials ask for
        seen.update(mode=sharing.mode, share=sweep.gpu_share)

    monkeypatch.setattr(sweep_module, "prepare", lambda spec, **kwargs: ([], {}, {}))
    monkeypatch.setattr(sweep_module, "cuda_available", lambda: True)
    monkeypatch.setattr(sweep_module, "_run", run)
    echoed: list[str] = []
    sweep_module.run_sweep(parse_spec({"name": "shared", "resources": {"gpus_per_trial": 0.25}}),
                           echo=echoed.append, **run_kwargs)
    return seen, echoed


def test_without_mps_a_sweep_asks_a_whole_gpu_per_trial_and_says_why(
        tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MPS_FAIL", "1")
    seen, echoed = packed_sweep_outcome(monkeypatch)
    assert seen == {"mode": ONE_PER_GPU, "share": 1.0}
    assert len(echoed) == 1 and echoed[0].startswith("MPS unavailable (") and "0.92x" in echoed[0]


def test_an_unknown_sharing_mode_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from orchestrator.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text("name: x\nresources: {gpu_sharing: exclusive}\n")
    result = CliRunner().invoke(main, ["sweep", "spec.yaml"])
    assert result.exit_code == 2 and result.output.strip().startswith(
        "error: resources.gpu_sharing: Input should be 'mps' or 'time_slice'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_a_gpu_node_runs_ray_start_under_its_own_daemon_and_stops_it_after(
        tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """The compose GPU worker's command (``stack.ray_worker(mps=True)``), run natively: the child
    (``ray start`` there, a probe here) sees the daemon's pipe folder; the daemon stops after it."""
    import sys

    from orchestrator import stack
    from orchestrator.run import gpu_node

    monkeypatch.setattr(gpu_node, "cuda_available", lambda: True)
    monkeypatch.setenv(gpu_node.MPS_DIR_ENV, str(tmp_path / "mps"))
    command = stack.ray_worker(address="ray-head:6379", mps=True)
    assert command[:3] == ["python", "-m", "orchestrator.run.gpu_node"] and command[3:5] == ["ray", "start"]
    probe = [sys.executable, "-c", f"import os; print('child pipe', os.environ['{PIPE_ENV}'])"]
    assert gpu_node.main(probe) == 0
    pipe = lines(tools)[0].split()[1].removeprefix("pipe=")
    assert f"child pipe {pipe}" in capfd.readouterr().out
    assert pipe.startswith(str(tmp_path / "mps"))
    assert lines(tools) == [lines(tools)[0], f"quit pipe={pipe}"]
    assert PIPE_ENV not in os.environ


def test_on_a_cluster_a_share_below_one_is_asked_as_given(tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster's GPU nodes pack under their own daemons (the compose GPU worker): the sweep
    starts none here, and its trials still ask Ray for the share the spec gives."""
    seen, echoed = packed_sweep_outcome(monkeypatch, address="10.0.0.1:6379")
    assert seen == {"mode": NOT_SHARED, "share": 0.25}
    assert lines(tools) == [] and echoed == []


@pytest.mark.parametrize("mps", ["starts", "fails"])
def test_a_measured_dry_run_measures_under_the_daemon_the_sweep_would_start(
        tools: Path, monkeypatch: pytest.MonkeyPatch, mps: str) -> None:
    """``--dry-run --measure`` times K processes as the sweep would run them: under MPS (time-sliced,
    they run slower than one and K = 1 would be chosen), or not at all where MPS cannot start."""
    import torch

    from orchestrator.bench import auto, choice
    from orchestrator.commands.measure import measure_lines
    from orchestrator.run.auto_share import UNPACKED_LINE
    from orchestrator.study import parse_spec

    measured_under: list[str] = []

    class Chosen:
        k, rows = 4, [{"workload": "resnet20", "runs": [{"k": 4, "images_per_second": 50_000.0}]}]

        def table(self) -> list[str]:
            return ["gpus_per_trial auto: 4 trials per GPU (gpus_per_trial 0.25)"]

    def auto_share(configs, *, device):
        measured_under.append(choice.sharing_here())
        return Chosen()

    if mps == "fails":
        monkeypatch.setenv("FAKE_MPS_FAIL", "1")
    monkeypatch.setattr(auto, "auto_share", auto_share)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    spec = parse_spec({"name": "measured", "data": {"dataset": "digits"}})
    found = measure_lines(spec, None)
    if mps == "fails":
        assert measured_under == [] and found[-1] == UNPACKED_LINE and found[0].startswith("MPS unavailable (")
        return
    assert measured_under == [choice.MPS] and found[0].startswith("trials share each GPU under an MPS daemon started")
    assert found[1] == Chosen().table()[0] and found[2].startswith("projected wall time: ")
    assert [call.split()[0] for call in lines(tools)] == ["start", "quit"] and PIPE_ENV not in os.environ
