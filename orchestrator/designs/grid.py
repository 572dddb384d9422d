"""Grid: every combination of the factors' levels (a full factorial), ``repeats`` seeds each."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..spec.plans import Cell, factorial, label_for
from ..spec.study import StudySpec
from .base import Design, DesignOptions, Levels, register_design


class FactorOptions(DesignOptions):
    """Options of the designs that vary factors: ``{dotted.key: [levels]}``."""

    factors: Levels = Field(default_factory=dict, description="{dotted.key: [levels]}")


class GridOptions(FactorOptions):
    kind: Literal["grid"] = "grid"


@register_design
class Grid(Design):
    name = "grid"
    options = GridOptions

    def cells(self, spec: StudySpec) -> list[Cell]:
        return [Cell.of(label_for(cell), cell, "search.factors") for cell in factorial(spec.search.factors)]
