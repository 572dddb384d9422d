"""Study designs, one module each, registered by name (``search.kind``) like the model zoo.

A design validates its part of the ``search`` section, expands a spec into trial plans (or, for
an adaptive search, runs its own stages), and describes them for ``--dry-run``. Adding a design is
one new module here plus its import below.
"""

from __future__ import annotations

from . import ablation, grid, variants  # noqa: F401  (register the designs)
from .base import DESIGNS, Design, get_design, register_design

try:  # a dependency of the package; absent only where `bench gpu` runs bare (it expands a variants study)
    from . import optuna  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "optuna":
        raise

__all__ = ["DESIGNS", "Design", "get_design", "register_design"]
