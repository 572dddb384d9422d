"""The compose stack's services started natively, with the command lines of orchestrator/stack.py.

Each fixture skips with a reason when its program is missing (``.ci/run`` installs them), and
stops what it started, by process id.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from orchestrator import stack

REPO = Path(__file__).resolve().parents[2]
ADMIN, ADMIN_PASSWORD = "admin", "s3cret-Pa55word-for-tests"
DB_USER, DB_PASSWORD, DB_NAME = "mlflow", "db-Pa55word-for-tests", "mlflow"
SMALL_DATA = {"dataset": "synthetic", "batch_size": 32,
              "options": {"num_classes": 4, "train_size": 128, "val_size": 32, "image_size": 16}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(probe: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.5)


def healthy(command: list[str], env: Optional[dict[str, str]] = None) -> Callable[[], bool]:
    """A probe that runs a health-check command of stack.py, as compose would."""
    return lambda: subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0


def running(process: subprocess.Popen, log: Path) -> bool:
    """True while ``process`` runs; its log's tail as the error once it has stopped."""
    if process.poll() is not None:
        raise RuntimeError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
    return True


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process we start: this worktree's code first (Ray's workers import
    it too), no inherited tracking or Ray settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "RAY_ADDRESS"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env | extra


def postgres_binary(name: str) -> Optional[str]:
    """Debian keeps the server programs in /usr/lib/postgresql/<version>/bin, off the PATH."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    return found if isinstance(found, str) else (found[0] if found else None)


@dataclass
class Postgres:
    port: int

    @property
    def uri(self) -> str:
        return f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/{DB_NAME}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster; run as the ``postgres`` user when we are root (it refuses
    root), with password authentication like the compose service."""
    binaries = {name: postgres_binary(name) for name in ("initdb", "pg_ctl", "pg_isready")}
    if not all(binaries.values()):
        pytest.skip("PostgreSQL server programs not installed (apt-get install postgresql)")
    # Not under pytest's tmp folder: that is private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="orchestrate-pg-"))
    data, port = folder / "data", free_port()
    (folder / "pw").write_text(DB_PASSWORD)
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        for path in (folder, folder / "pw"):
            shutil.chown(path, "postgres")

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True)

    run(binaries["initdb"], "-D", str(data), "-U", DB_USER, "--auth=scram-sha-256",
        f"--pwfile={folder / 'pw'}", "-E", "UTF8")
    run(binaries["pg_ctl"], "-D", str(data), "-l", str(folder / "log"), "-w", "start", "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1")
    try:
        env = child_env(PGPASSWORD=DB_PASSWORD)
        subprocess.run([postgres_binary("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(port),
                        "-U", DB_USER, DB_NAME], check=True, env=env, capture_output=True)
        probe = stack.postgres_health(user=DB_USER, database=DB_NAME, port=port)
        probe[0] = binaries["pg_isready"]
        wait_until(healthy(probe, env), timeout=30, what="postgres")
        yield Postgres(port)
    finally:
        run(binaries["pg_ctl"], "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class MlflowServer:
    uri: str
    artifacts: Path
    log: Path


@pytest.fixture(scope="session")
def mlflow_server(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """``mlflow server`` as compose runs it: Postgres backend, proxied artifacts (a local folder
    here, MinIO in compose), basic auth with the admin from the environment."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    (folder / "basic_auth.ini").write_text(stack.auth_config(database_uri=f"sqlite:///{folder / 'auth.db'}"))
    port = free_port()
    env = child_env(**stack.mlflow_server_env(
        backend_store_uri=postgres.uri, auth_config_path=str(folder / "basic_auth.ini"),
        admin_username=ADMIN, admin_password=ADMIN_PASSWORD, secret_key="csrf-key-for-tests"))
    command = stack.mlflow_server(artifacts_destination=str(folder / "artifacts"), host="127.0.0.1", port=port)
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: running(process, log) and healthy(stack.mlflow_health(port=port))(),
                   timeout=120, what=f"mlflow server (log: {log})")
        yield MlflowServer(f"http://127.0.0.1:{port}", folder / "artifacts", log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def write_spec(folder: Path, name: str, **extra: object) -> Path:
    """A tiny ablation: a baseline and one factor, one seed each (2 trials of 1 epoch)."""
    import yaml

    spec = {
        "name": name, "data": SMALL_DATA,
        "model": {"name": "resnet20", "attention": "eca"},
        "train": {"epochs": 1, "optimizer": {"name": "sgd", "lr": 0.05}},
        "search": {"kind": "ablation", "baseline": {"model.attention": None},
                   "factors": {"model.attention_kwargs.k_size": [5]}, "repeats": 1},
        "resources": {"cpus_per_trial": 1, "storage": str(folder / "ray_results")},
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run_cli(args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``orchestrate ARGS`` as a user runs it, from this worktree's code."""
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class FinishedStudy:
    name: str
    server: MlflowServer
    output: str


@pytest.fixture(scope="session")
def server_study(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> FinishedStudy:
    """A small study run against the server with credentials from the environment only."""
    folder = tmp_path_factory.mktemp("server-study")
    spec = write_spec(folder, "scaleout_server")
    env = child_env(MLFLOW_TRACKING_URI=mlflow_server.uri, MLFLOW_TRACKING_USERNAME=ADMIN,
                    MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD, ORCHESTRATE_DATA=str(folder / "data"))
    done = run_cli(["sweep", str(spec)], env=env, cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return FinishedStudy("scaleout_server", mlflow_server, done.stdout + done.stderr)
