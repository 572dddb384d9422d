"""A new SQLite store, copied from an empty one MLflow made earlier instead of migrated again.

MLflow builds a new SQLite store by running every schema migration since its first version:
about a second of Python on the 2-core machine, spent before a study's first trial while Ray
starts beside it. The schema depends only on MLflow's version, so the first store made with a
version leaves an empty copy in the cache and every later one starts from that copy. The copy
holds no experiment: MLflow adds its Default experiment when it opens the store, with the
artifact location it would give it there (a path that depends on where it runs).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing, suppress
from pathlib import Path

from ..cache import cache_dir


def template_path() -> Path:
    import mlflow

    return cache_dir() / f"mlflow-{mlflow.__version__}-empty.db"


def copy_template(path: Path) -> bool:
    """Make the store at ``path`` from the cached empty store; False when there is none yet."""
    template = template_path()
    if not template.is_file():
        return False
    shutil.copyfile(template, path)
    return True


def keep_template(path: Path) -> None:
    """Leave an empty copy of the new, migrated store at ``path`` for the next new store.

    Best effort: a cache that cannot be written costs the next store its migrations, nothing else.
    """
    template = template_path()
    partial = template.with_name(f"{template.name}.{os.getpid()}.partial")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)  # a consistent snapshot, whatever MLflow's connection holds
            with copy:
                copy.execute("DELETE FROM experiment_tags")
                copy.execute("DELETE FROM experiments")
        os.replace(partial, template)  # atomic: a concurrent sweep copies a whole template or none
    except (OSError, sqlite3.Error):
        pass  # no template this time
    finally:
        with suppress(OSError):
            partial.unlink(missing_ok=True)
