"""On a GPU machine: a packed sweep through the real command, Ray and MLflow, under the MPS daemon
the sweep starts itself; no daemon is left once the command has exited. Needs the whole stack
(on a bare GPU machine: the kit of ``../shared/gpu/e2e``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml

from orchestrator.run import gpu_sharing

REPO = Path(__file__).resolve().parents[3]
SWEEP_LIMIT_S = 100  # with STOP_WAIT_S, inside the `timeout 180` of the GPU session's step
STOP_WAIT_S = 60


def mps_processes() -> list[str]:
    """The MPS control daemons and servers running on this machine."""
    return [process.info["name"] for process in psutil.process_iter(["name"])
            if (process.info["name"] or "").startswith("nvidia-cuda-mps")]


@pytest.mark.gpu
def test_a_packed_sweep_trains_under_its_own_daemon_and_leaves_none_behind(tmp_path: Path) -> None:
    from orchestrator.tracking.names import CUDA_GRAPHS_TAG, DEVICE_TAG, GPU_SHARING_TAG
    from orchestrator.tracking.reader import latest_sweep_run, read_client, trial_runs

    control = gpu_sharing.find_control()
    if control is None or gpu_sharing.running_daemon(dict(os.environ), control)[0] is not None:
        pytest.skip("needs nvidia-cuda-mps-control and no daemon already running")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = {"name": "packed_gpu", "data": {"dataset": "digits", "batch_size": 64},
            "model": {"name": "resnet20"}, "train": {"epochs": 1, "device": "cuda"},
            "search": {"kind": "grid", "repeats": 4},
            "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0.25, "storage": str(tmp_path / "ray")},
            "tracking": {"uri": uri}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    sweep = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "sweep", str(tmp_path / "spec.yaml")],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, errors = sweep.communicate(timeout=SWEEP_LIMIT_S)
    except subprocess.TimeoutExpired:
        # SIGTERM, not the SIGKILL of subprocess.run's timeout: the sweep unwinds and stops its
        # trials, Ray and its daemon, so the GPU session's next step finds the GPU free.
        sweep.terminate()
        out, errors = sweep.communicate(timeout=STOP_WAIT_S)
        pytest.fail(f"the sweep ran past {SWEEP_LIMIT_S} s: {out[-2000:]}{errors[-2000:]}")
    assert sweep.returncode == 0, out[-2000:] + errors[-2000:]
    client = read_client(uri)
    parent = latest_sweep_run(client, "packed_gpu")
    assert parent.data.tags[GPU_SHARING_TAG] == gpu_sharing.MPS_STARTED
    runs = list(trial_runs(client, parent.info.experiment_id))
    assert [run.info.status for run in runs] == ["FINISHED"] * 4
    assert all(run.data.tags[DEVICE_TAG] == "cuda" for run in runs)
    # bf16 on CUDA, SGD, full batches: every trial's steps captured (a failed capture says why here)
    assert [run.data.tags[CUDA_GRAPHS_TAG] for run in runs] == ["on"] * 4
    assert mps_processes() == []
