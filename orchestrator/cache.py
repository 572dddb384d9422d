"""Where orchestrate keeps what it can make again but would rather not: measurements and templates."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ORCHESTRATE_CACHE"


def cache_dir() -> Path:
    """``$ORCHESTRATE_CACHE``, else ``~/.cache/orchestrate``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "orchestrate")
