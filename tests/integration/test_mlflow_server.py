"""A study against the compose stack's MLflow server (Postgres, basic auth), run natively."""

from __future__ import annotations

import json

import pytest
import requests
from mlflow import MlflowClient

from .conftest import ADMIN, ADMIN_PASSWORD, DB_PASSWORD, FinishedStudy

pytestmark = pytest.mark.slow  # an MLflow server with Postgres started per module: about 1.5 minutes


@pytest.fixture
def client(server_study: FinishedStudy, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    return MlflowClient(tracking_uri=server_study.server.uri)


def study_runs(client: MlflowClient, study: str) -> list:
    experiment = client.get_experiment_by_name(study)
    assert experiment is not None, f"no experiment {study}"
    return client.search_runs([experiment.experiment_id])


def test_requests_without_credentials_are_refused(mlflow_server) -> None:
    search = f"{mlflow_server.uri}/api/2.0/mlflow/experiments/search"
    assert requests.post(search, json={"max_results": 1}, timeout=10).status_code == 401
    wrong = requests.post(search, json={"max_results": 1}, auth=(ADMIN, "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert requests.post(search, json={"max_results": 1}, auth=(ADMIN, ADMIN_PASSWORD), timeout=10).ok


def test_study_runs_metrics_and_artifacts_reach_the_server(server_study: FinishedStudy, client) -> None:
    runs = study_runs(client, server_study.name)
    parents = [r for r in runs if r.data.tags["orchestrate.kind"] == "sweep"]
    children = [r for r in runs if r.data.tags["orchestrate.kind"] == "trial"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags["orchestrate.label"] for r in children) == ["baseline", "k_size=5"]
    for run in children:
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val/top1")] == [1]
        assert run.data.metrics["summary/params"] > 0
        config = json.loads(open(client.download_artifacts(run.info.run_id, "trial_config.json")).read())
        assert config["model"]["name"] == "resnet20"
    # Proxied artifact serving: the files sit in the server's artifact destination.
    assert list(server_study.server.artifacts.rglob("trial_config.json"))


def test_no_secret_in_params_tags_artifacts_or_output(server_study: FinishedStudy, client) -> None:
    secrets = (ADMIN_PASSWORD, DB_PASSWORD)
    for run in study_runs(client, server_study.name):
        recorded = json.dumps([run.data.params, run.data.tags])
        assert not any(secret in recorded for secret in secrets)
    # Every file the server stores as an artifact (CSV, JSON and PNG alike), read where it lies.
    stored = [path for path in server_study.server.artifacts.rglob("*") if path.is_file()]
    assert stored and not any(secret.encode() in path.read_bytes() for path in stored for secret in secrets)
    assert not any(secret in server_study.output for secret in secrets)


def test_a_password_in_the_uri_is_redacted_in_spec_json_and_output(mlflow_server, client) -> None:
    """Credentials in ``tracking.uri`` instead of the environment: the sweep logs in with them,
    and neither its spec.json, its params and tags nor its output hold the password."""
    from orchestrator.study import parse_spec
    from orchestrator.run.sweep import Sweep

    host = mlflow_server.uri.removeprefix("http://")
    spec = parse_spec({"name": "scaleout_uri", "tracking": {"uri": f"http://{ADMIN}:{ADMIN_PASSWORD}@{host}"}})
    lines: list[str] = []
    sweep = Sweep(spec, lines.append, resumable={})
    run_id = sweep.tracker.start_sweep(sweep.spec_data, trial_count=0)
    sweep.tracker.end_sweep()
    logged = json.loads(open(client.download_artifacts(run_id, "spec.json")).read())
    assert logged["tracking"]["uri"] == f"http://{ADMIN}:***@{host}"
    run = client.get_run(run_id)
    assert ADMIN_PASSWORD not in json.dumps([run.data.params, run.data.tags, sweep.spec_data, lines])
