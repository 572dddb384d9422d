"""Helpers of the cluster-fault tests (test_faults.py): tiny studies, a sweep driven from
outside, an MLflow server that can be stopped and started again, a Ray node killed, a storage
folder made unreachable, and what the store and Tune recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml
from mlflow import MlflowClient

from orchestrator import stack
from orchestrator.study import parse_spec
from tests.orchestrator.run.recovery import command, expand, histories, uninterrupted

from .conftest import ADMIN, ADMIN_PASSWORD, Postgres, child_env, free_port, healthy, running, wait_until

DATA = {"dataset": "synthetic", "batch_size": 32,
        "options": {"num_classes": 4, "train_size": 128, "val_size": 64, "image_size": 16}}


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

