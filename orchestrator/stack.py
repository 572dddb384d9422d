"""The scale-out stack's command lines, shared by ``docker-compose.yml`` and the native tests.

Docker cannot run where the tests run, so the integration tests start the same programs with the
same flags natively; ``tests/integration/test_compose.py`` checks that every service of the
compose file runs exactly what these functions return, so the two cannot drift apart. Secrets
never appear in a command line (``ps`` shows those to every user): the MLflow backend URI and the
admin password travel in the environment, which is what :func:`mlflow_server_env` returns.
"""

from __future__ import annotations

import textwrap

MLFLOW_PORT = 5000
POSTGRES_PORT = 5432
S3_PORT = 9000
S3_CONSOLE_PORT = 9001
RAY_PORT = 6379
RAY_CLIENT_PORT = 10001
RAY_DASHBOARD_PORT = 8265
# Host headers MLflow accepts: it refuses others (DNS rebinding), and inside the compose network
# clients call it by its service name.
ALLOWED_HOSTS = ("localhost:*", "127.0.0.1:*", "mlflow:*")


def mlflow_server(*, artifacts_destination: str, host: str, port: int = MLFLOW_PORT,
                  allowed_hosts: tuple[str, ...] = ALLOWED_HOSTS) -> list[str]:
    """The tracking server: basic auth on, artifacts proxied to ``artifacts_destination``.

    Proxied serving means clients never hold object-store credentials; only the server does.
    The backend store comes from ``$MLFLOW_BACKEND_STORE_URI`` (it holds the database password).
    """
    return ["mlflow", "server", "--app-name", "basic-auth", "--serve-artifacts",
            "--artifacts-destination", artifacts_destination, "--host", host, "--port", str(port),
            "--allowed-hosts", ",".join(allowed_hosts)]


def mlflow_server_env(*, backend_store_uri: str, auth_config_path: str, admin_username: str,
                      admin_password: str, secret_key: str) -> dict[str, str]:
    """The server's secrets, read by MLflow from these variables (never from argv).

    ``secret_key`` signs the auth app's CSRF tokens; it must stay the same across restarts.
    """
    return {
        "MLFLOW_BACKEND_STORE_URI": backend_store_uri,
        "MLFLOW_AUTH_CONFIG_PATH": auth_config_path,
        "MLFLOW_AUTH_ADMIN_USERNAME": admin_username,
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secret_key,
    }


def auth_config(*, database_uri: str) -> str:
    """``basic_auth.ini``: nobody may read or write without logging in (``NO_PERMISSIONS``);
    the admin user is created from the environment on the first start."""
    return textwrap.dedent(f"""\
        [mlflow]
        default_permission = NO_PERMISSIONS
        database_uri = {database_uri}
        authorization_function = mlflow.server.auth:authenticate_request_basic_auth
        """)


def mlflow_health(*, port: int = MLFLOW_PORT) -> list[str]:
    """``/health`` answers without credentials, so the probe needs none."""
    return ["python", "-c", f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=5)"]


def postgres_health(*, user: str, database: str, port: int = POSTGRES_PORT) -> list[str]:
    return ["pg_isready", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", database]


def ray_head(*, port: int = RAY_PORT, client_port: int | None = RAY_CLIENT_PORT,
             dashboard_port: int | None = RAY_DASHBOARD_PORT, dashboard_host: str = "127.0.0.1",
             num_cpus: int | None = None, block: bool = True) -> list[str]:
    """The head node with its dashboard and Ray Client server (``ray[default]``, as in the
    image; None leaves one out, for a minimal Ray). ``block`` keeps it in the foreground (a
    container's main process); without it ``ray start`` daemonizes (the native tests)."""
    command = ["ray", "start", "--head", f"--port={port}"]
    if client_port is not None:
        command.append(f"--ray-client-server-port={client_port}")
    if dashboard_port is None:
        command.append("--include-dashboard=false")
    else:
        command += ["--include-dashboard=true", f"--dashboard-host={dashboard_host}",
                    f"--dashboard-port={dashboard_port}"]
    command.append("--disable-usage-stats")
    return _node_options(command, num_cpus=num_cpus, resources=None, block=block)


def ray_worker(*, address: str, num_cpus: int | None = None, resources: str | None = None,
               block: bool = True, mps: bool = False) -> list[str]:
    """A worker joining ``address``; Ray detects its GPUs itself (those the container was given).
    With ``mps``, under an MPS daemon of its own (:mod:`orchestrator.run.gpu_node`), so trials
    asking for a share of a GPU pack without the slowdown of time slicing."""
    command = ["ray", "start", f"--address={address}", "--disable-usage-stats"]
    command = _node_options(command, num_cpus=num_cpus, resources=resources, block=block)
    return ["python", "-m", "orchestrator.run.gpu_node", *command] if mps else command


def _node_options(command: list[str], *, num_cpus: int | None, resources: str | None,
                  block: bool) -> list[str]:
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    if resources is not None:
        command.append(f"--resources={resources}")
    if block:
        command.append("--block")
    return command


def ray_health(*, address: str) -> list[str]:
    return ["ray", "health-check", f"--address={address}"]


def s3_server(*, data_dir: str = "/data") -> list[str]:
    """MinIO, the S3-compatible store of the artifacts and checkpoints (compose only: the native
    tests use moto's S3 server, which speaks the same API)."""
    return ["server", data_dir, "--address", f":{S3_PORT}", "--console-address", f":{S3_CONSOLE_PORT}"]


def s3_health() -> list[str]:
    return ["mc", "ready", "local"]
