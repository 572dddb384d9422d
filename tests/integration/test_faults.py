"""The faults a cluster user meets, with real services: the MLflow server (Postgres) restarting
during a sweep, a Ray worker node dying with trials on it, checkpoint storage away for a while."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import psutil
import pytest
import torch
import yaml
from mlflow import MlflowClient

from orchestrator import stack
from orchestrator.spec import parse_spec
from orchestrator.trial import CHECKPOINT_FILE, NODE_KEY, RESUMED_FROM_KEY
from tests.orchestrator.recovery import command, expand, histories, uninterrupted, wait_for

from .conftest import ADMIN, ADMIN_PASSWORD, Postgres, child_env, free_port, healthy, running, wait_until
from .test_ray_cluster import stop_processes_naming

pytestmark = pytest.mark.slow  # each test runs real services and one or two sweeps: 1-3 minutes each

DATA = {"dataset": "synthetic", "batch_size": 32,
        "options": {"num_classes": 4, "train_size": 128, "val_size": 64, "image_size": 16}}
OUTAGE_S = 30  # the tracking server's
STORAGE_OUTAGE_S = 8


def grid(name: str, folder: Path, *, epochs: int, lrs: list[float], **resources: object) -> dict:
    """A grid of one learning rate per trial, checkpointed every epoch into ``folder/ray``."""
    return {"name": name, "data": DATA, "model": {"name": "resnet20"},
            "train": {"epochs": epochs, "optimizer": {"name": "sgd", "lr": 0.05}},
            "search": {"kind": "grid", "factors": {"train.optimizer.lr": lrs}},
            "resources": {"cpus_per_trial": 1, "storage": str(folder / "ray"), **resources}}


def write(folder: Path, raw: dict) -> Path:
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@dataclass
class Sweep:
    """``orchestrate sweep`` running in its own session, its output kept line by line."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(command("sweep", *self.args), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env=self.env | {"PYTHONUNBUFFERED": "1"},
                                        cwd=self.cwd, start_new_session=True)
        self.reader = threading.Thread(target=lambda: self.lines.extend(l.rstrip("\n") for l in self.process.stdout),
                                       daemon=True)
        self.reader.start()

    def finish(self, timeout: float = 400) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.reader.join(timeout=10)
        return code, "\n".join(self.lines)


class RestartableServer:
    """``mlflow server`` on Postgres as compose runs it, stopped and started again on one port."""

    def __init__(self, postgres: Postgres, folder: Path) -> None:
        (folder / "basic_auth.ini").write_text(stack.auth_config(database_uri=f"sqlite:///{folder / 'auth.db'}"))
        self.port, self.folder = free_port(), folder
        self.uri = f"http://127.0.0.1:{self.port}"
        self.env = child_env(**stack.mlflow_server_env(
            backend_store_uri=postgres.uri, auth_config_path=str(folder / "basic_auth.ini"),
            admin_username=ADMIN, admin_password=ADMIN_PASSWORD, secret_key="csrf-key-for-tests"))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.folder / "server.log"
        command = stack.mlflow_server(artifacts_destination=str(self.folder / "artifacts"), host="127.0.0.1",
                                      port=self.port)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(command, env=self.env, cwd=self.folder, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        process = self.process
        wait_until(lambda: running(process, log) and healthy(stack.mlflow_health(port=self.port))(),
                   timeout=120, what=f"mlflow server (log: {log})")

    def stop(self) -> None:
        """Every process of the server (its workers too), as a container stop does."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a loaded machine: its workers slow to drain
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None


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


def client_of(server: RestartableServer) -> MlflowClient:
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN, ADMIN_PASSWORD
    return MlflowClient(tracking_uri=server.uri)


def logged_epochs(client: MlflowClient, study: str) -> int:
    """How many epochs of ``study``'s trials the store holds so far (0 before it exists)."""
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return 0
    runs = client.search_runs([experiment.experiment_id], "tags.`orchestrate.kind` = 'trial'")
    return sum(len(client.get_metric_history(run.info.run_id, "val/top1")) for run in runs)


def assert_every_epoch_logged_once(client: MlflowClient, raw: dict) -> None:
    """Each (configuration, seed) one FINISHED run whose every metric holds each epoch exactly
    once, with the values of the same configuration trained straight through."""
    experiment = client.get_experiment_by_name(raw["name"])
    runs = client.search_runs([experiment.experiment_id], "tags.`orchestrate.kind` = 'trial'")
    plans = {plan.run_key: plan for plan in expand(parse_spec(raw))}
    assert sorted(run.data.tags["orchestrate.run_key"] for run in runs) == sorted(plans)
    epochs = list(range(1, raw["train"]["epochs"] + 1))
    for run in runs:
        assert run.info.status == "FINISHED"
        for key in run.data.metrics:
            if not key.startswith("summary/"):
                assert sorted(m.step for m in client.get_metric_history(run.info.run_id, key)) == epochs, key
        plan = plans[run.data.tags["orchestrate.run_key"]]
        assert histories(client.tracking_uri, run.info.run_id) == uninterrupted(plan)


def tracking_env(server: RestartableServer, folder: Path, **extra: str) -> dict[str, str]:
    return child_env(MLFLOW_TRACKING_URI=server.uri, MLFLOW_TRACKING_USERNAME=ADMIN,
                     MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD, ORCHESTRATE_DATA=str(folder / "data"), **extra)


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
    code, output = sweep.finish()
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


def kill_node(marker: str) -> None:
    """SIGKILL the raylet whose command line names ``marker`` and every process under it (its
    workers, the trial's among them): a node lost at once, as when its machine dies."""
    raylets = [p for p in psutil.process_iter(["name", "cmdline"])
               if "raylet" in (p.info["name"] or "") and marker in " ".join(p.info["cmdline"] or ())]
    assert len(raylets) == 1, raylets
    doomed = raylets[0].children(recursive=True) + raylets
    for process in doomed:
        process.kill()
    psutil.wait_procs(doomed, timeout=30)


def results_by_attempt(storage: Path, run_key: str) -> list[list[dict]]:
    """Each process's results of one trial, in order (Tune appends every attempt to result.json)."""
    (path,) = storage.rglob(f"{run_key}/result.json")
    results = [json.loads(line) for line in path.read_text().splitlines()]
    pids = list(dict.fromkeys(result["pid"] for result in results))
    return [[result for result in results if result["pid"] == pid] for pid in pids]


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


def min_logged_epochs(store: str, study: str, *, trials: int) -> int:
    """The fewest epochs any of the study's ``trials`` runs has logged (0 until all exist)."""
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return 0
    runs = client.search_runs([experiment.experiment_id], "tags.`orchestrate.kind` = 'trial'")
    if len(runs) < trials:
        return 0
    return min(len(client.get_metric_history(run.info.run_id, "val/top1")) for run in runs)


class TrialFolder:
    """A trial's folder in the checkpoint storage, made unreachable and given back: replaced by a
    file, every write into it fails (``ENOTDIR``/``EEXIST``), as on a mount that is gone."""

    def __init__(self, storage: Path, run_key: str) -> None:
        self.storage, self.run_key = storage, run_key

    def checkpoints(self) -> list[Path]:
        return sorted(self.storage.glob(f"*/*/*/{self.run_key}/checkpoint_*"))

    def break_(self) -> None:
        (self.path,) = {c.parent for c in self.checkpoints()}
        self.path.rename(self.path.with_suffix(".away"))
        self.path.write_text("storage unreachable")

    def repair(self) -> None:
        self.path.unlink()
        self.path.with_suffix(".away").rename(self.path)


def local_sweep(folder: Path, raw: dict, **env: str) -> Sweep:
    return Sweep([str(write(folder, raw))], child_env(ORCHESTRATE_DATA=str(folder / "data"), **env), folder)


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
