"""Where an Optuna study persists: a journal file beside the study's store, and what it holds."""

from __future__ import annotations

from pathlib import Path

import optuna

from ...tracking.store import sqlite_path


def optuna_storage_path(tracking_uri: str, study: str) -> Path:
    """Where a study's Optuna journal lives: beside a SQLite MLflow store, else in ./optuna/.

    A journal file is what ``optuna-dashboard PATH`` opens, and it tolerates the driver being
    killed mid-write, which a second SQLite writer beside MLflow's would not.
    """
    database = sqlite_path(tracking_uri)
    folder = database.parent if database is not None else Path.cwd()
    return folder / "optuna" / f"{study}.journal"


def journal_storage(path: Path) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def finished_trial_count(storage_path: Path, study_name: str) -> int:
    """Trials of a persisted study that ended (complete, pruned or failed): a resumed search
    proposes only the rest of its ``num_samples``."""
    if not storage_path.exists():
        return 0
    try:
        study = optuna.load_study(study_name=study_name, storage=journal_storage(storage_path))
    except KeyError:  # no study of that name in the journal yet
        return 0
    running = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING
    return sum(trial.state not in running for trial in study.trials)
