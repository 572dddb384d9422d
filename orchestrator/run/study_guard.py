"""A study holds one base recipe: a sweep whose base configuration differs from the one the
study recorded is refused, or, when the user asks to add it, its runs are labelled apart.

Without this, ``orchestrate sweep quickstart.yaml train.epochs=2`` beside a 6-epoch study puts
2-epoch runs under the same labels, and every table mixes or hides them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from ..errors import SpecError
from ..spec.plans import TrialPlan
from ..tracking.store import flatten, spec_differences

BASE_SECTIONS = ("data", "model", "train")  # the trial config every configuration starts from


def base_differences(recorded: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Dotted key -> current value of every base-configuration leaf that differs."""
    old = flatten({k: recorded.get(k) or {} for k in BASE_SECTIONS})
    new = flatten({k: current.get(k) or {} for k in BASE_SECTIONS})
    return {k: new.get(k) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)}


def check_base(study: str, recorded: Optional[dict[str, Any]], current: dict[str, Any], *,
               add_to_study: bool) -> dict[str, Any]:
    """The base-configuration keys in which ``current`` differs from the study's ``recorded``
    spec; refused (exit 2) unless ``add_to_study``. Empty for a new study or the same recipe."""
    if not recorded:
        return {}
    differences = base_differences(recorded, current)
    if differences and not add_to_study:
        shown = "; ".join(spec_differences({k: recorded.get(k) for k in BASE_SECTIONS},
                                           {k: current.get(k) for k in BASE_SECTIONS})[:8])
        raise SpecError(f"the base configuration differs from the one study {study!r} recorded: {shown}; "
                        f"give this sweep a new name (name=...) or add it to the study with --add-to-study")
    return differences


def relabel(plan: TrialPlan, suffix: str) -> TrialPlan:
    """``plan`` with ``suffix`` after its label (itself when the suffix is empty)."""
    return replace(plan, label=plan.label + suffix) if suffix and not plan.label.endswith(suffix) else plan

