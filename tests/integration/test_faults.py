"""The faults a cluster user meets, with real services: the MLflow server (Postgres) restarting
during a sweep, a Ray worker node dying with trials on it, checkpoint storage away for a while."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
import torch
from mlflow import MlflowClient

from orchestrator import stack
from orchestrator.study import parse_spec
from orchestrator.run.trial import CHECKPOINT_FILE, NODE_KEY, RESUMED_FROM_KEY
from tests.orchestrator.run.recovery import expand, wait_for

from .conftest import Postgres, child_env, free_port, healthy, wait_until
from .faults import (RestartableServer, Sweep, TrialFolder, assert_every_epoch_logged_once, client_of, grid,
                     kill_node, local_sweep, logged_epochs, min_logged_epochs, results_by_attempt, tracking_env,
                     write)
from .test_ray_cluster import stop_processes_naming

pytestmark = pytest.mark.slow  # each test runs real services and one or two sweeps: 2-7 minutes each on 2 cores

OUTAGE_S = 30  # the tracking server's
STORAGE_OUTAGE_S = 8


@pytest.fixture
def server(postgres: Postgres, tmp_path: Path) -> Iterator[RestartableServer]:
    folder = tmp_path / "server"
    folder.mkdir()
    server = RestartableServer(postgres, folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_tracking_server_restarted_mid_sweep_loses_and_repeats_no_epoch(server: RestartableServer,
                                                                          tmp_path: Path) -> None:
    raw = grid("fault_server_restart", tmp_path, epochs=5, lrs=[0.05, 0.02])
    client = client_of(server)
    sweep = Sweep([str(write(tmp_path, raw))], tracking_env(server, tmp_path), tmp_path)
    wait_for(lambda: sweep.process.poll() is not None or logged_epochs(client, raw["name"]) > 0, timeout=300)
    server.stop()
    time.sleep(OUTAGE_S)
    assert sweep.process.poll() is None, "the sweep ended while the server was down:\n" + "\n".join(sweep.lines)
    server.start()
    code, output = sweep.finish()
    assert code == 0, output
    assert "tracking store unreachable" in output  # it retried, and said so
    assert_every_epoch_logged_once(client, raw)


def test_a_tracking_server_down_past_the_limit_stops_the_sweep_and_resume_finishes_it(
        server: RestartableServer, tmp_path: Path) -> None:
    raw = grid("fault_server_gone", tmp_path, epochs=5, lrs=[0.05, 0.02])
    client = client_of(server)
    spec = str(write(tmp_path, raw))
    env = tracking_env(server, tmp_path, ORCHESTRATE_TRACKING_PATIENCE="10")
    sweep = Sweep([spec], env, tmp_path)
    wait_for(lambda: sweep.process.poll() is not None or logged_epochs(client, raw["name"]) > 0, timeout=300)
    server.stop()
    code, output = sweep.finish(timeout=240)  # it gives up after 10 s: the stop takes seconds, not minutes
    server.start()
    assert code == 75, output
    stop = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(stop) == 1, output  # one line: what is away, and how to go on
    assert stop[0].startswith(f"error: tracking store {server.uri} unreachable for 1"), stop[0]
    assert stop[0].endswith(f"once it is back, continue with: orchestrate sweep {spec} --resume"), stop[0]
    done = Sweep([spec, "--resume"], env, tmp_path)
    code, output = done.finish()
    assert code == 0, output
    assert_every_epoch_logged_once(client, raw)


@pytest.fixture
def two_nodes() -> Iterator[tuple[str, dict[str, str]]]:
    """A head and a worker node on this machine, one CPU each, the worker marked ``node_b``."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp = Path(tempfile.mkdtemp(prefix="rf-"))  # short: Ray's socket paths under it must fit 107 bytes
    env = child_env(RAY_TMPDIR=str(temp), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    head = stack.ray_head(port=port, client_port=None, dashboard_port=None, num_cpus=1, block=False)
    worker = stack.ray_worker(address=address, num_cpus=1, resources=json.dumps({"node_b": 1}), block=False)
    try:
        for line in (head, worker):
            done = subprocess.run(line, env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stdout + done.stderr
        wait_until(healthy(stack.ray_health(address=address), env), timeout=60, what="ray head")
        yield address, env
    finally:
        stop_processes_naming(str(temp))
        shutil.rmtree(temp, ignore_errors=True)


def test_a_worker_node_killed_under_its_trials_they_finish_on_the_other_node_with_unchanged_numbers(
        two_nodes, tmp_path: Path) -> None:
    address, env = two_nodes
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw = grid("fault_node_lost", tmp_path, epochs=8, lrs=[0.05, 0.02]) | {"tracking": {"uri": store}}
    sweep = Sweep([str(write(tmp_path, raw)), "--address", address],
                  env | {"ORCHESTRATE_DATA": str(tmp_path / "data")}, tmp_path)
    # Two one-CPU trials on two one-CPU nodes: one on each. Kill the worker once both have
    # checkpointed two epochs; its trial must go on from there on the head.
    wait_for(lambda: sweep.process.poll() is not None or min_logged_epochs(store, raw["name"], trials=2) >= 2,
             timeout=300)
    kill_node("node_b")
    code, output = sweep.finish()
    assert code == 0, output
    client = MlflowClient(tracking_uri=store)
    assert_every_epoch_logged_once(client, raw)
    moved = [attempts for plan in expand(parse_spec(raw))
             if len(attempts := results_by_attempt(tmp_path / "ray", plan.run_key)) > 1]
    assert len(moved) == 1, "exactly the worker node's trial was retried"
    first, second = moved[0]
    assert second[0][RESUMED_FROM_KEY] >= 2  # restored its checkpoint, not started over
    assert second[0]["epoch"] == second[0][RESUMED_FROM_KEY] + 1
    assert {r[NODE_KEY] for r in second} != {r[NODE_KEY] for r in first}  # on the remaining node


def test_checkpoint_storage_away_for_a_while_the_trial_waits_and_reports_nothing_unsaved(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw = grid("fault_storage_blip", tmp_path, epochs=8, lrs=[0.05]) | {"tracking": {"uri": store}}
    (plan,) = expand(parse_spec(raw))
    folder = TrialFolder(tmp_path / "ray", plan.run_key)
    sweep = local_sweep(tmp_path, raw, ORCHESTRATE_STORAGE_PATIENCE="120")
    wait_for(lambda: sweep.process.poll() is not None or len(folder.checkpoints()) >= 2, timeout=300)
    folder.break_()
    time.sleep(STORAGE_OUTAGE_S)
    assert sweep.process.poll() is None, "the sweep ended while its storage was away:\n" + "\n".join(sweep.lines)
    folder.repair()
    code, output = sweep.finish()
    assert code == 0, output
    assert_every_epoch_logged_once(MlflowClient(tracking_uri=store), raw)
    (results,) = results_by_attempt(tmp_path / "ray", plan.run_key)  # one attempt: waited, not retried
    assert [r["epoch"] for r in results] == list(range(1, 9))
    checkpoints = [r["checkpoint_dir_name"] for r in results]
    assert None not in checkpoints and len(set(checkpoints)) == 8  # each epoch sent with its own checkpoint
    assert max(r["time_this_iter_s"] for r in results) >= STORAGE_OUTAGE_S - 1  # the epoch that waited


def test_checkpoint_storage_away_past_the_limit_fails_the_trial_naming_it(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw = grid("fault_storage_gone", tmp_path, epochs=8, lrs=[0.05]) | {"tracking": {"uri": store}}
    (plan,) = expand(parse_spec(raw))
    folder = TrialFolder(tmp_path / "ray", plan.run_key)
    sweep = local_sweep(tmp_path, raw, ORCHESTRATE_STORAGE_PATIENCE="3")
    wait_for(lambda: sweep.process.poll() is not None or len(folder.checkpoints()) >= 2, timeout=300)
    folder.break_()
    code, output = sweep.finish()
    folder.repair()
    assert code == 1, output  # a failed trial
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name(raw["name"]).experiment_id],
                                "tags.`orchestrate.kind` = 'trial'")
    assert run.info.status == "FAILED"
    failure = run.data.tags["orchestrate.failure"]
    assert f"checkpoint storage {folder.path.parent} unreachable for " in failure, failure
    assert "\n" not in failure
    # Every epoch the store holds was sent with its checkpoint: the newest one holds the last.
    logged = sorted(m.step for m in client.get_metric_history(run.info.run_id, "val/top1"))
    assert logged == list(range(1, len(logged) + 1)) and 2 <= len(logged) < 8
    newest = torch.load(folder.checkpoints()[-1] / CHECKPOINT_FILE, weights_only=False)
    assert newest["epoch"] == logged[-1]

