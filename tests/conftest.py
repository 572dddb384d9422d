"""Shared fixtures: an isolated working directory and MLflow store, and one local Ray per session;
tests marked ``gpu`` skip where there is no CUDA device."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session (the empty MLflow store new stores are copied from), never the user's."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_cache: Path) -> Path:
    """Each test runs in its own folder, so ./mlflow.db and ./ray_results never leak between tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORCHESTRATE_CACHE", str(session_cache))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("ORCHESTRATE_DATA", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for every sweep test: starting Ray costs seconds on a 2-core machine."""
    import ray

    from orchestrator.run.cluster import worker_env

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
             runtime_env={"env_vars": worker_env()})
    yield ray
    ray.shutdown()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests without CUDA, so ``pytest -m gpu`` collects them everywhere and CI stays green."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is false)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
