"""docker-compose.yml runs what orchestrator/stack.py builds, which the native tests run."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import stack

from .conftest import REPO


def env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}`` / ``${VAR:-default}`` substitution; ``$$`` is a literal ``$``."""
    def value(match: re.Match) -> str:
        name, _, default = match.group(1).partition(":-")
        return env.get(name) or default

    return re.sub(r"(?<!\$)\$\{([^}]+)\}", value, text).replace("$$", "$")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    raw = (REPO / "docker-compose.yml").read_text()
    assert "${" in raw
    return yaml.safe_load(interpolate(raw, env_example()))["services"]


def test_every_service_has_a_health_check_or_is_a_one_shot(services) -> None:
    assert set(services) == {"postgres", "minio", "create-bucket", "mlflow", "ray-head", "ray-worker"}
    for name, service in services.items():
        if name == "create-bucket":
            assert service["restart"] == "no"
        else:
            assert service["healthcheck"]["test"][0] == "CMD", name


def test_commands_and_health_checks_are_the_ones_the_native_tests_run(services) -> None:
    env = env_example()
    assert services["mlflow"]["command"] == stack.mlflow_server(
        artifacts_destination=f"s3://{env['S3_BUCKET']}/mlflow", host="0.0.0.0")
    assert services["mlflow"]["healthcheck"]["test"][1:] == stack.mlflow_health()
    assert services["postgres"]["healthcheck"]["test"][1:] == stack.postgres_health(
        user=env["POSTGRES_USER"], database=env["POSTGRES_DB"])
    assert services["ray-head"]["command"] == stack.ray_head(dashboard_host="0.0.0.0", num_cpus=0)
    assert services["ray-worker"]["command"] == stack.ray_worker(address=f"ray-head:{stack.RAY_PORT}", mps=True)
    assert services["ray-head"]["healthcheck"]["test"][1:] == stack.ray_health(address=f"127.0.0.1:{stack.RAY_PORT}")
    assert services["ray-worker"]["healthcheck"]["test"][1:] == stack.ray_health(address=f"ray-head:{stack.RAY_PORT}")
    assert services["minio"]["command"] == stack.s3_server()
    assert services["minio"]["healthcheck"]["test"][1:] == stack.s3_health()


def test_the_mlflow_server_gets_its_secrets_from_the_environment(services) -> None:
    env = env_example()
    mlflow = services["mlflow"]
    expected = stack.mlflow_server_env(
        backend_store_uri=f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/{env['POSTGRES_DB']}",
        auth_config_path="/etc/mlflow/basic_auth.ini", admin_username=env["MLFLOW_ADMIN_USERNAME"],
        admin_password=env["MLFLOW_ADMIN_PASSWORD"], secret_key=env["MLFLOW_SECRET_KEY"])
    assert expected.items() <= mlflow["environment"].items()
    assert not any(secret in " ".join(mlflow["command"]) for secret in env.values() if "change-me" in secret)
    assert "./docker/basic_auth.ini:/etc/mlflow/basic_auth.ini:ro" in mlflow["volumes"]
    shipped, built = configparser.ConfigParser(), configparser.ConfigParser()
    shipped.read(REPO / "docker" / "basic_auth.ini")
    built.read_string(stack.auth_config(database_uri=shipped["mlflow"]["database_uri"]))
    assert dict(shipped["mlflow"]) == dict(built["mlflow"])
    assert shipped["mlflow"]["database_uri"].startswith("sqlite:////mlflow/auth/")
    assert any(v.endswith(":/mlflow/auth") for v in mlflow["volumes"])


def test_published_ports_are_bound_to_localhost(services) -> None:
    published = {name: s.get("ports", []) for name, s in services.items()}
    assert published["mlflow"] == [f"127.0.0.1:{stack.MLFLOW_PORT}:{stack.MLFLOW_PORT}"]
    assert f"127.0.0.1:{stack.RAY_DASHBOARD_PORT}:{stack.RAY_DASHBOARD_PORT}" in published["ray-head"]
    assert not published["postgres"] and not published["ray-worker"]  # internal; workers scale
    for name, ports in published.items():
        assert all(port.startswith("127.0.0.1:") for port in ports), name


def test_every_store_has_a_volume_and_workers_reserve_a_gpu(services) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = {name: [v.split(":")[1] for v in s.get("volumes", [])] for name, s in services.items()}
    assert "/var/lib/postgresql/data" in mounts["postgres"] and "/data" in mounts["minio"]
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert named <= set(compose["volumes"])
    worker = services["ray-worker"]
    assert "container_name" not in worker
    assert worker["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_the_image_installs_the_torch_the_project_is_tested_with() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    pyproject = (REPO / "pyproject.toml").read_text()
    for package, version in re.findall(r"ARG (TORCH|TORCHVISION)_VERSION=(\S+)", dockerfile):
        assert f'"{package.lower()}>=' in pyproject and f"<={version}" in pyproject


def test_no_real_secret_is_shipped() -> None:
    env = env_example()
    secrets = [k for k in env if k.endswith(("PASSWORD", "SECRET_KEY", "TOKEN"))]
    assert secrets and all(env[k].startswith("change-me") for k in secrets)
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()
