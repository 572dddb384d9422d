"""Grid: every combination of the factors' levels (a full factorial), ``repeats`` seeds each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..plans import Cell, factorial, label_for
from .base import Design, register_design

if TYPE_CHECKING:
    from ..spec import SweepSpec


@register_design
class Grid(Design):
    name = "grid"
    keys = ("factors",)

    def cells(self, spec: SweepSpec) -> list[Cell]:
        return [Cell.of(label_for(cell), cell, "search.factors") for cell in factorial(spec.search.factors)]
