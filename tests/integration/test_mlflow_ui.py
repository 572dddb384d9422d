"""The MLflow UI of a finished study, rendered by headless Chromium: the study, its parent run
and its child runs are on the page; the screenshot is kept under tests/artifacts/.

The page is ``orchestrate ui`` on the study's Postgres store: the auth server's page cannot be
rendered by a bare Chromium, whose ``fetch`` refuses a page URL that carries credentials, and
a browser of the server's users answers the login prompt instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from mlflow import MlflowClient

from orchestrator import stack
from orchestrator.tracking.reader import ui_path

from .conftest import REPO, FinishedStudy, child_env, free_port, healthy, running, wait_until

ARTIFACTS = REPO / "tests" / "artifacts"  # git-ignored
# A Postgres store, an MLflow server, a sweep and Chromium: about two minutes on two cores.
pytestmark = pytest.mark.slow
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,900", "--virtual-time-budget=20000"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    return found


@pytest.fixture
def study_ui(server_study: FinishedStudy, postgres, tmp_path: Path) -> Iterator[str]:
    """``orchestrate ui`` on the study's store, on a free port of 127.0.0.1."""
    port = free_port()
    log = tmp_path / "ui.log"
    command = [sys.executable, "-m", "orchestrator.cli", "ui", "--tracking-uri", postgres.uri, "--port", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=child_env(), cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: running(process, log) and healthy(stack.mlflow_health(port=port))(),
                   timeout=120, what="orchestrate ui")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def render(chromium: str, url: str, profile: Path, *extra: str) -> str:
    """The page's DOM after its scripts ran (virtual time lets them finish)."""
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def text_of(dom: str) -> str:
    """The page's visible text: React splits ``{n} matching runs`` with ``<!-- -->`` comments."""
    return " ".join(re.sub(r"<[^>]*>", " ", re.sub(r"<(style|script)\b.*?</\1>", "", dom, flags=re.S)).split())


def test_the_ui_shows_the_study_its_sweep_and_its_trials(chromium: str, server_study: FinishedStudy,
                                                         study_ui: str, postgres, tmp_path: Path) -> None:
    experiment = MlflowClient(postgres.uri).get_experiment_by_name(server_study.name)
    page = f"{study_ui}/#/experiments/{experiment.experiment_id}/runs"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dom = render(chromium, page, tmp_path / "profile", "--dump-dom")
    (ARTIFACTS / "mlflow_ui_study.html").write_text(dom)  # what the assertions below read
    dom = text_of(dom)
    assert server_study.name in dom and f"{server_study.name} sweep" in dom
    # Child runs fold under their parent in the runs table, which counts them; each child's
    # own page shows its name.
    assert "3 matching runs" in dom
    client = MlflowClient(postgres.uri)
    for run in client.search_runs([experiment.experiment_id], "tags.`orchestrate.kind` = 'trial'"):
        dom = text_of(render(chromium, f"{page}/{run.info.run_id}", tmp_path / "profile", "--dump-dom"))
        assert run.info.run_name in dom and f"{server_study.name} sweep" in dom  # its parent
    shot = ARTIFACTS / "mlflow_ui_study.png"
    render(chromium, page, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_the_experiment_opens_on_the_training_runs_view(chromium: str, server_study: FinishedStudy,
                                                        study_ui: str, postgres, tmp_path: Path) -> None:
    """The study's address as ``orchestrate ui STUDY`` prints it: MLflow 3 opens an experiment
    on its GenAI overview of traces ("No data available") unless told the training view."""
    experiment = MlflowClient(postgres.uri).get_experiment_by_name(server_study.name)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    # Starlette's deprecation of the WSGI middleware MLflow's server imports, once per worker.
    assert "DeprecationWarning" not in (tmp_path / "ui.log").read_text()
    dom = render(chromium, study_ui + ui_path(server_study.name, uri=postgres.uri), tmp_path / "profile", "--dump-dom")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "mlflow_ui_landing.html").write_text(dom)
    text = text_of(dom)
    assert text.startswith("Runs - Experiment") and f"{server_study.name} sweep" in text
    assert "3 matching runs" in text and "No data available" not in text
