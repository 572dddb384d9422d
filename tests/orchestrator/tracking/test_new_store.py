"""A new SQLite store is copied from the empty one the first new store left, not migrated again."""

from __future__ import annotations

from pathlib import Path

import mlflow.store.db.utils
import pytest

from orchestrator.tracking.new_store import template_path
from orchestrator.tracking.store import open_client


def test_a_second_new_store_is_copied_and_works_like_a_migrated_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ORCHESTRATE_CACHE", str(tmp_path / "cache"))
    first = open_client(f"sqlite:///{tmp_path / 'first.db'}")
    assert template_path().is_file()

    def migrations_ran(engine):
        raise AssertionError("a new store was migrated although an empty copy was cached")

    monkeypatch.setattr(mlflow.store.db.utils, "_initialize_tables", migrations_ran)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    second = open_client(f"sqlite:///{tmp_path / 'second.db'}")

    # MLflow made the Default experiment in the copy itself, with the location it gives it here.
    default = second.get_experiment("0")
    assert default.name == first.get_experiment("0").name
    assert default.artifact_location == str(tmp_path / "elsewhere" / "mlruns" / "0")
    experiment = second.create_experiment("study")
    run = second.create_run(experiment)
    second.log_param(run.info.run_id, "lr", "0.1")
    assert second.get_run(run.info.run_id).data.params == {"lr": "0.1"}
    assert [e.name for e in second.search_experiments()] == ["study", "Default"]


def test_an_unwritable_cache_costs_only_the_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("ORCHESTRATE_CACHE", str(blocker / "cache"))
    client = open_client(f"sqlite:///{tmp_path / 'store.db'}")
    assert client.get_experiment("0").name == "Default"
    assert not list(tmp_path.glob("**/*.partial"))


def test_a_scheme_an_mlflow_plugin_registers_is_a_store_and_an_unknown_one_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from orchestrator.tracking import store

    plugin = EntryPoint(name="vault", value="vault_store:VaultStore", group=store.PLUGIN_GROUP)
    monkeypatch.setattr(store, "entry_points", lambda group: [plugin] if group == store.PLUGIN_GROUP else [])
    assert store.unsupported_scheme("vault://team/runs") == ""
    assert store.unsupported_scheme("postgresql+psycopg://db/mlflow") == store.unsupported_scheme("runs/mlflow.db") == ""
    assert store.unsupported_scheme("sqlit:///x.db").startswith("unsupported scheme 'sqlit'")
    assert store.unsupported_scheme("sqlit:///x.db").endswith("databricks-uc, uc, vault (or a PATH ending in .db)")
    # MLflow's file store, as MLflow 3 decides: only when its variable allows it.
    assert store.unsupported_scheme("mlruns").startswith("mlruns is MLflow's file store")
    assert store.unsupported_scheme("databricks") == ""  # a workspace, named alone
    monkeypatch.setenv(store.FILE_STORE_ENV, "true")
    assert store.unsupported_scheme("mlruns") == store.unsupported_scheme("file:///tmp/mlruns") == ""
