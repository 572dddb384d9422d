"""Where the store is and how to reach it: URI resolution, reachability, redaction."""

from __future__ import annotations

import os
import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..errors import OrchestrateError, SpecError

if TYPE_CHECKING:  # imported when a client is opened: see open_client
    from mlflow.tracking import MlflowClient

DEFAULT_URI = "sqlite:///mlflow.db"
SQLITE_PREFIX = "sqlite:///"
# A store written as a plain path to a database file (as --help shows the default, ./mlflow.db)
# is that SQLite file; MLflow itself would read any plain path as its file store.
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
# MLflow 3 opens its file store (a plain folder path or file://) only with this set; without
# it, the store fails with a paragraph once a sweep has started.
FILE_STORE_ENV = "MLFLOW_ALLOW_FILE_STORE"


# The URI schemes MLflow's own tracking-store registry opens (a database's may name its driver:
# postgresql+psycopg2); a plain path is MLflow's file store. Any other scheme fails in MLflow's
# registry lookup with a multi-sentence exception, after a sweep has said it is starting. Listed
# here because the registry is private to MLflow and importing MLflow costs seconds a spec read.
STORE_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "file", "databricks",
                 "databricks-uc", "uc")
PLUGIN_GROUP = "mlflow.tracking_store"  # the entry points MLflow's plugins register their schemes under
BARE_SCHEMES = ("databricks", "databricks-uc", "uc")  # stores MLflow opens named alone, without ://


def unsupported_scheme(uri: str) -> str:
    """Why MLflow opens no store at ``uri`` ('' when it does)."""
    scheme, sep, _ = uri.partition("://")
    file_store = scheme.lower() == "file" if sep else uri not in BARE_SCHEMES and not sqlite_file_path(uri)
    if file_store and not file_store_allowed():
        return (f"{redact(uri)} is MLflow's file store, which MLflow opens only with {FILE_STORE_ENV}=true; "
                "allowed: a SQLite file (sqlite:///PATH, or a PATH ending in .db), a tracking server "
                "(http://, https://) or a database URI (postgresql://, mysql://)")
    allowed = (*STORE_SCHEMES, *(entry.name for entry in entry_points(group=PLUGIN_GROUP)))
    if not sep or scheme.split("+")[0].lower() in allowed:
        return ""
    return f"unsupported scheme {scheme!r} in {redact(uri)}; allowed: {', '.join(allowed)} (or a PATH ending in .db)"


def file_store_allowed() -> bool:
    return os.environ.get(FILE_STORE_ENV, "").lower() in ("true", "1")  # as MLflow reads it


def sqlite_file_path(uri: str) -> bool:
    """Whether ``uri`` is a plain path to a database file, read as that SQLite store."""
    return "://" not in uri and Path(uri).suffix.lower() in SQLITE_SUFFIXES


def sqlite_path(uri: str) -> Optional[Path]:
    """The database file of a SQLite store URI, None for any other store."""
    return Path(uri[len(SQLITE_PREFIX):]) if uri.startswith(SQLITE_PREFIX) else None


def artifact_location(uri: str, study: str) -> Optional[str]:
    """Where a new study's artifacts go: beside a SQLite store's database, in ``mlruns/<study>``,
    so a study's folder holds all of it. MLflow's own default is ./mlruns of whichever process
    first opened the store, a folder that moves with the working directory. None for a server,
    whose artifact root is its own."""
    path = sqlite_path(uri)
    return str(path.parent / "mlruns" / study) if path is not None else None


def absent_sqlite_file(uri: str) -> Optional[Path]:
    """The database file of a SQLite store URI when that file does not exist yet, else None
    (the file exists, or the store is a server)."""
    path = sqlite_path(uri)
    return path if path is not None and not path.is_file() else None


def resolve_uri(configured: Optional[str] = None) -> str:
    """The spec's URI, else ``$MLFLOW_TRACKING_URI``, else ``mlflow.db`` in the working directory.

    A plain path to a database file is that SQLite store. A relative SQLite path is made
    absolute so the store does not move with the process's cwd.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if sqlite_file_path(uri):
        uri = SQLITE_PREFIX + uri
    path = sqlite_path(uri)
    return SQLITE_PREFIX + str(path.resolve()) if path is not None else uri


def check_reachable(uri: str, *, timeout: float = 5.0) -> None:
    """Fail fast with one line when the store cannot be used, instead of MLflow's minutes of
    retries against a server that is down or a database folder that does not exist. The URI may
    come from ``$MLFLOW_TRACKING_URI``, which no spec check has seen."""
    why = unsupported_scheme(uri)
    if why:
        raise SpecError(f"tracking store: {why}")
    path = sqlite_path(uri)
    if path is not None:
        folder = path.parent
        if not folder.is_dir():
            raise SpecError(f"tracking store {uri}: folder {folder} does not exist")
        return
    if uri.startswith(("http://", "https://")):
        import requests

        try:
            requests.get(uri.rstrip("/") + "/health", timeout=timeout)
        except requests.RequestException as exc:
            raise OrchestrateError(
                f"cannot reach the MLflow tracking server at {redact(uri)}: {type(exc).__name__}"
            ) from None


def redact(uri: str) -> str:
    """``uri`` without the password of a ``user:password@host`` part."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", uri)


def open_client(uri: str) -> MlflowClient:
    """An MLflow client whose store exists. Creating a SQLite store runs schema migrations,
    which race when two sweeps start on a new file at once; a lock file beside it serializes
    that first contact. MLflow is imported here, not at the top: reading a SQLite store by SQL
    (leaderboard, report rows) never needs it, and importing it takes seconds."""
    from mlflow.tracking import MlflowClient

    path = sqlite_path(uri)
    if path is None:
        return MlflowClient(tracking_uri=uri)
    from filelock import FileLock

    from .new_store import copy_template, keep_template

    with FileLock(f"{path}.lock"):
        migrate = not path.is_file() and not copy_template(path)
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # creates and migrates the tables, if not copied
        if migrate:
            keep_template(path)
    return client


def redact_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec as plain data with its tracking URI's password hidden: what is logged (``spec.json``),
    compared on resume and shipped to trials, so no copy of a password leaves the driver."""
    tracking = spec.get("tracking") or {}
    if not tracking.get("uri"):
        return spec
    return spec | {"tracking": tracking | {"uri": redact(tracking["uri"])}}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def spec_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every leaf that differs between two specs."""
    old, new = flatten(recorded), flatten(current)
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(old.keys() | new.keys())
            if old.get(k) != new.get(k)]
