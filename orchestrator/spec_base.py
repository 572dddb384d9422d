"""Base classes of every spec section."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import OptionError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OptionsModel(BaseModel):
    """A named builder plus free keyword options, checked against the builder's signature."""

    model_config = ConfigDict(extra="allow")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def format_validation_error(exc: ValidationError, root: type[BaseModel], prefix: str = "") -> str:
    """One line for the first error: ``key.path: what is wrong (what is allowed)``."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, OptionError) and cause.subpath:
        loc += cause.subpath.split(".")
    path = prefix + ".".join(loc) if loc else prefix.rstrip(".") or "spec"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        return f"{path}: unknown key (allowed: {', '.join(allowed)})"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{path}: required key is missing"
    if error["type"] in ("value_error", "assertion_error"):
        return f"{path}: {message}"
    return f"{path}: {message} (got {error.get('input')!r})"


def _allowed_keys(root: type[BaseModel], loc: list[str]) -> list[str]:
    model: Any = root
    for part in loc:
        field = model.model_fields.get(part) if isinstance(model, type) else None
        annotation = field.annotation if field else None
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)
