"""The spec a user writes: the study's sections joined with every registered design's, trial
scheduler's and sampler's own options, validated once, each mistake one line naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from .designs import DEFAULT_KIND, SearchChoice
from .errors import SpecError
from .schema import format_validation_error
from .spec.loading import read_spec
from .spec.study import StudySpec


class SweepSpec(StudySpec):
    search: SearchChoice = Field(default_factory=lambda: {"kind": DEFAULT_KIND},  # type: ignore[valid-type]
                                 validate_default=True)


def parse_spec(raw: dict[str, Any], *, default_name: str | None = None) -> SweepSpec:
    raw = dict(raw)
    if default_name and "name" not in raw:
        raw["name"] = default_name
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, SweepSpec)) from None


def load_spec(path: str | Path, overrides: list[str] = ()) -> SweepSpec:
    """Load, override and validate a spec file; raises :class:`SpecError` with one line."""
    raw, stem = read_spec(path, overrides)
    return parse_spec(raw, default_name=stem)
