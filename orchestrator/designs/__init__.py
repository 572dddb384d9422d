"""Study designs, one module each, registered by name (``search.kind``) like the model zoo.

A design declares its own search options (a pydantic model with a literal ``kind``), expands a
spec into trial plans or plans its stages while the sweep runs them, and describes them for
``--dry-run``. :data:`SearchChoice` is the discriminated union of the registered designs'
options, so a key of another design is refused by name. Adding a design is one new module here
plus its import below.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field

from . import ablation, grid, optuna, variants  # noqa: F401  (register the designs)
from .base import DESIGNS, Design, DesignOptions, get_design, register_design
from .stages import PlanStage, SearchStage, Stage, StudyState

DEFAULT_KIND = "grid"


def _kind(value: Any) -> Any:
    """A search section without ``kind`` is a grid, as it always has been."""
    if isinstance(value, dict) and "kind" not in value:
        return {"kind": DEFAULT_KIND, **value}
    return value


SearchChoice = Annotated[Union[tuple(design.options for design in DESIGNS.values())],  # type: ignore[valid-type]
                         Field(discriminator="kind"), BeforeValidator(_kind)]

__all__ = ["DESIGNS", "DEFAULT_KIND", "Design", "DesignOptions", "PlanStage", "SearchChoice", "SearchStage",
           "Stage", "StudyState", "get_design", "register_design"]
