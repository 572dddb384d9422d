"""Grid: every combination of the factors' levels (a full factorial), ``repeats`` seeds each."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..spec.plans import Cell, factorial, label_for
from ..spec.study import StudySpec
from .base import Design, DesignOptions, register_design


class FactorOptions(DesignOptions):
    """Options of the designs that vary factors: ``{dotted.key: [levels]}``."""

    factors: dict[str, list[Any]] = Field(default_factory=dict, description="{dotted.key: [levels]}")

    @field_validator("factors")
    @classmethod
    def _levels_listed(cls, factors: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """An empty list of levels would silently drop every cell."""
        for name, levels in factors.items():
            if not levels:
                raise ValueError(f"factor {name!r} has no levels; list at least one value")
        return factors


class GridOptions(FactorOptions):
    kind: Literal["grid"] = "grid"


@register_design
class Grid(Design):
    name = "grid"
    options = GridOptions

    def cells(self, spec: StudySpec) -> list[Cell]:
        return [Cell.of(label_for(cell), cell, "search.factors") for cell in factorial(spec.search.factors)]
