"""What a study's latest sweep run recorded about the study, read the cheapest way: SQL on a
SQLite store (the leaderboard never imports MLflow there), MLflow's client elsewhere."""

from __future__ import annotations

import json
from typing import Any, Optional

from . import sqlite_reader
from .names import DEFAULT_METRIC, DEFAULT_MODE
from .reader import latest_sweep, latest_sweep_run, read_client, read_json_artifact
from .store import resolve_uri


def study_objective(study: str, *, uri: Optional[str] = None) -> tuple[str, str]:
    """(metric, mode) of the study's latest sweep; the default objective when none recorded them."""
    path = sqlite_reader.sqlite_file(resolve_uri(uri))
    if path is not None:
        params = sqlite_reader.latest_sweep_params(path, study)
    else:
        latest = latest_sweep_run(read_client(uri), study)
        params = None if latest is None else latest.data.params
    if params is None:
        return DEFAULT_METRIC, DEFAULT_MODE
    metric, mode = params.get("search.metric", DEFAULT_METRIC), params.get("search.mode", DEFAULT_MODE)
    if metric.startswith("["):  # a multi-objective study ranks by its first objective
        metric, mode = json.loads(metric)[0], json.loads(mode)[0]
    return metric, mode


def study_file(study: str, name: str, *, uri: Optional[str] = None) -> Optional[dict[str, Any]]:
    """JSON artifact ``name`` of the study's latest sweep run, or None; a SQLite store with local
    artifacts is read without MLflow, as the leaderboard reads it."""
    path = sqlite_reader.sqlite_file(resolve_uri(uri))
    if path is not None:
        try:
            text = sqlite_reader.latest_sweep_file(path, study, name)
            return None if text is None else json.loads(text)
        except LookupError:
            pass  # artifacts on a server: MLflow's client reads them
    latest = latest_sweep(study, uri=uri)
    return None if latest is None else read_json_artifact(latest[0], name, uri=uri)
