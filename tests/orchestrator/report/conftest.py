"""Session stores for the report tests; the logging helpers are in ``report_store``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from report_store import log_oat, open_store

RAM_FOLDER = "/dev/shm"


@pytest.fixture(scope="session")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder in RAM when the machine has one: every MLflow write to SQLite syncs the file, and
    on disk that alone makes a store of thousands of runs take minutes to write."""
    if not os.access(RAM_FOLDER, os.W_OK):
        yield tmp_path_factory.mktemp("stores")
        return
    folder = Path(tempfile.mkdtemp(prefix="orchestrate-report-tests-", dir=RAM_FOLDER))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def store(store_folder: Path) -> str:
    """One store for the session (creating its schema takes seconds); studies are named apart."""
    return open_store(store_folder / "shared")


@pytest.fixture(scope="session")
def oat(store: str) -> str:
    log_oat(store)
    return store


