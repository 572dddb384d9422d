"""What a sweep does before Ray starts lies on the path to its first trial: only the checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from recovery import study

REPO = Path(__file__).resolve().parents[2]


def test_preparing_a_sweep_on_a_new_store_imports_no_mlflow(tmp_path: Path) -> None:
    """MLflow's imports take one to two seconds: on a new store they belong to the thread that
    creates the store while Ray starts (``run_sweep``), not to the checks before it. A fresh
    interpreter, since this one has imported MLflow."""
    raw = study("fresh", f"sqlite:///{tmp_path / 'mlflow.db'}", lrs=[0.1])
    probe = ("import json, sys; from orchestrator.spec import parse_spec; from orchestrator.sweep import prepare; "
             f"prepare(parse_spec(json.loads({json.dumps(raw)!r})), resume=False); "
             "print(sorted(name for name in sys.modules if name.split('.')[0] == 'mlflow'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
