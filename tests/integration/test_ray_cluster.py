"""A study on a 2-node Ray cluster started with the compose stack's ``ray start`` lines."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Iterator

import mlflow
import psutil
import pytest

from orchestrator import stack

from .conftest import child_env, free_port, healthy, run_cli, wait_until, write_spec

pytestmark = pytest.mark.slow  # a two-node Ray cluster on this machine: about 1 minute


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A head and a worker on this machine, one CPU each, the worker with its own resource.

    No dashboard or client server: the tests install the minimal Ray, the image ``ray[default]``.
    Not ``ray stop`` afterwards: it stops every Ray on the machine, other users' included; the
    cluster's processes are those that name its private temp folder.
    """
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp = tmp_path_factory.mktemp("ray")
    # Token authentication as in compose: nodes and drivers share one secret.
    env = child_env(RAY_TMPDIR=str(temp), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    head = stack.ray_head(port=port, client_port=None, dashboard_port=None, num_cpus=1, block=False)
    worker = stack.ray_worker(address=address, num_cpus=1, resources=json.dumps({"node_b": 1}), block=False)
    try:
        for command in (head, worker):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stdout + done.stderr
        wait_until(healthy(stack.ray_health(address=address), env), timeout=60, what="ray head")
        yield address, env
    finally:
        stop_processes_naming(str(temp))


def stop_processes_naming(folder: str) -> None:
    """Terminate (then kill) the processes whose command line names ``folder``."""
    ours = [p for p in psutil.process_iter(["cmdline"]) if folder in " ".join(p.info["cmdline"] or ())]
    for process in ours:
        process.terminate()
    _, alive = psutil.wait_procs(ours, timeout=5)
    for process in alive:
        process.kill()


def test_a_study_on_the_cluster_runs_trials_on_both_nodes(ray_cluster, tmp_path: Path) -> None:
    address, env = ray_cluster
    spec = write_spec(tmp_path, "scaleout_cluster")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run_cli(["sweep", str(spec), f"tracking.uri={store}", "--address", address],
                   env=env | {"ORCHESTRATE_DATA": str(tmp_path / "data")}, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["scaleout_cluster"])
    trials = runs[runs["tags.orchestrate.kind"] == "trial"]
    assert sorted(trials["tags.orchestrate.label"]) == ["baseline", "k_size=5"]
    assert (trials["status"] == "FINISHED").all()
    # Two one-CPU nodes and two one-CPU trials started together: one trial on each node.
    assert trials["tags.orchestrate.node"].nunique() == 2, trials["tags.orchestrate.node"].tolist()
