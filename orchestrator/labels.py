"""How configurations are named for people: labels, progress lines, tables.

Shared by the planner and the reports (which must not import the planner), so a value reads
the same everywhere.
"""

from __future__ import annotations

import json
from typing import Any

RECIPE_OPEN = " ["  # opens the suffix of runs added to a study with another base recipe


def short_value(value: Any) -> str:
    """A value as labels show it: floats to 4 significant digits (a sampled learning rate is
    ``0.07572``, not 17 digits), everything else as JSON."""
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


def recipe_suffix(differences: dict[str, Any]) -> str:
    """What sets runs of another base recipe apart in their labels: `` [epochs=2]``."""
    if not differences:
        return ""
    return RECIPE_OPEN + ",".join(f"{k.rsplit('.', 1)[-1]}={short_value(v)}" for k, v in differences.items()) + "]"


def recipe_of(label: str) -> str:
    """The recipe suffix of a label (empty for runs of the study's first recipe)."""
    return label[label.index(RECIPE_OPEN):] if RECIPE_OPEN in label else ""


def duration(seconds: float) -> str:
    """A span of time as a person reads it: ``45 s``, ``12 min``, ``3.4 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
