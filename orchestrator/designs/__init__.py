"""Study designs, one module each, registered by name (``search.kind``) like the model zoo.

A design declares its own search options (a pydantic model with a literal ``kind``), expands a
spec into trial plans or plans its stages while the sweep runs them, and describes them for
``--dry-run``. :data:`SearchChoice` is the discriminated union of the registered designs'
options, so a key of another design is refused by name. Adding a design is one new module here
plus its import below.
"""

from __future__ import annotations

from ..schema import tagged_union
from . import ablation, grid, variants  # noqa: F401  (register the designs)
from .base import DESIGNS, Design, DesignOptions, get_design, register_design
from .stages import PlanStage, SearchStage, Stage, StudyState

try:  # a dependency of the package; absent only where `bench gpu` runs bare (it expands a variants study)
    from . import optuna  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "optuna":
        raise

DEFAULT_KIND = "grid"  # a search section without ``kind``
SearchChoice = tagged_union([design.options for design in DESIGNS.values()], key="kind", default=DEFAULT_KIND)

__all__ = ["DESIGNS", "DEFAULT_KIND", "Design", "DesignOptions", "PlanStage", "SearchChoice", "SearchStage",
           "Stage", "StudyState", "get_design", "register_design"]
