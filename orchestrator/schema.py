"""Base classes of every spec section."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, Optional, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .errors import OptionError


ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OptionsModel(BaseModel):
    """A named builder plus free keyword options, checked against the builder's signature."""

    model_config = ConfigDict(extra="allow")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PluginRegistry(dict):
    """Plugins that are their own options models (a trial scheduler, a sampler), keyed by the
    literal default of their ``key`` field, and the discriminated union a spec section takes."""

    def __init__(self, plugin: str, *, key: str = "name") -> None:
        super().__init__()
        self.plugin, self.key = plugin, key

    def register(self, cls: type[ModelT]) -> type[ModelT]:
        """Class decorator; a second plugin of a name is a bug."""
        name = cls.model_fields[self.key].default
        if name in self:
            raise ValueError(f"{self.plugin} {name!r} is registered twice")
        self[name] = cls
        return cls

    def choice(self, default: str) -> Any:
        """The discriminated union of the registered models (see :func:`tagged_union`)."""
        return tagged_union(list(self.values()), key=self.key, default=default)


def tagged_union(members: list[type[BaseModel]], *, key: str, default: str) -> Any:
    """The union of ``members`` told apart by their literal ``key``: a bare name means that
    member with its defaults, a mapping without the key the ``default`` member."""

    def named(value: Any) -> Any:
        if isinstance(value, str):
            return {key: value}
        if isinstance(value, dict) and key not in value:
            return {key: default, **value}
        return value

    return Annotated[Union[tuple(members)], Field(discriminator=key), BeforeValidator(named)]  # type: ignore[valid-type]


def construct(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """``model`` from data a validation already produced (the dump of a validated model), without
    validating it again. pydantic's ``model_construct`` builds one level only; nested sections
    are constructed here the same way."""
    values = {}
    for name, value in data.items():
        field = model.model_fields.get(name)
        nested = _models_in(field.annotation) if field is not None else []
        values[name] = construct(nested[0], value) if len(nested) == 1 and isinstance(value, dict) else value
    return model.model_construct(**values)


def format_validation_error(exc: ValidationError, root: type[BaseModel], prefix: str = "") -> str:
    """One line for the first error: ``key.path: what is wrong (what is allowed)``.

    Plugins' options are discriminated unions (``search`` by ``kind``, a scheduler or sampler by
    ``name``): pydantic puts the chosen member's tag in the error's location, which the key path
    leaves out; an option of another member says which members take it."""
    error = _chosen_error(exc.errors(), root)
    located = _locate(root, [str(part) for part in error["loc"]])
    loc = located.path
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, OptionError) and cause.subpath:
        loc += cause.subpath.split(".")
    path = prefix + ".".join(loc) if loc else prefix.rstrip(".") or "spec"
    if error["type"] == "extra_forbidden":
        return f"{path}: {_unknown_key(located, loc)}"
    if error["type"] == "union_tag_invalid":
        tag, tags = error["ctx"]["tag"], sorted(t.strip("' ") for t in error["ctx"]["expected_tags"].split(","))
        close = difflib.get_close_matches(str(tag), tags, n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        key = error["ctx"]["discriminator"].strip("'")
        return f"{path}.{key}: unknown {key} {tag!r}{hint} (allowed: {', '.join(tags)})"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{path}: required key is missing"
    if error["type"] in ("value_error", "assertion_error"):
        return f"{path}: {message}"
    return f"{path}: {message} (got {error.get('input')!r})"


def _chosen_error(errors: list[Any], root: type[BaseModel]) -> Any:
    """The first error; where it lies in a branch of a plain union (``mode: max`` or a list of
    modes), the error of the branch that got furthest into the value: for ``[max, maxx]`` the
    list's item 1, not "should be 'max' or 'min'" said of the whole list."""
    first = errors[0]
    branch = _locate(root, [str(part) for part in first["loc"]]).branch
    if branch is None:
        return first
    siblings = [e for e in errors if tuple(e["loc"][:branch]) == tuple(first["loc"][:branch])]
    return max(siblings, key=lambda e: len(e["loc"]))  # the first of the deepest


@dataclass
class _Located:
    """An error's key path without union tags; the model holding its last key (None inside a
    plain mapping), the union it was chosen from and its tag."""

    path: list[str]
    model: Optional[type[BaseModel]]
    members: list[type[BaseModel]] = field(default_factory=list)
    tag: Optional[tuple[str, str]] = None  # (discriminator, value) of the chosen member
    branch: Optional[int] = None  # where in the raw location a plain union's branch label stands


def _locate(root: type[BaseModel], raw: list[str]) -> _Located:
    path: list[str] = []
    model: Optional[type[BaseModel]] = root
    members: list[type[BaseModel]] = []
    tag: Optional[tuple[str, str]] = None
    branch: Optional[int] = None
    index = 0
    while index < len(raw):
        part = raw[index]
        path.append(part)
        index += 1
        if index == len(raw):
            break  # the last key: ``model`` stays the model that holds it
        if model is None or part not in model.model_fields:
            model, members, tag = None, [], None  # inside a plain mapping (factors, options)
            continue
        annotation = model.model_fields[part].annotation
        found = _models_in(annotation)
        members, tag = [], None
        if not found and _plain_union(annotation):  # pydantic names the failing branch next
            # ("literal['max','min']", "list[str]"): a type, not a key the user wrote
            branch, model = index, None
            index += 1
        elif len(found) > 1:  # a discriminated union: the chosen member's tag comes next
            chosen = raw[index]
            index += 1
            match = [(m, key) for m in found for key, f in m.model_fields.items() if f.default == chosen]
            model = match[0][0] if match else None
            members, tag = (found, (match[0][1], chosen)) if match else ([], None)
        else:
            model = found[0] if found else None
    return _Located(path, model, members, tag, branch)


def _plain_union(annotation: Any) -> bool:
    """Whether ``annotation`` is a union of several types other than None (``Optional[X]`` is not)."""
    return get_origin(annotation) in (Union, UnionType) and len([a for a in get_args(annotation)
                                                                  if a is not type(None)]) > 1


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation may hold, through Optional, Union and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _unknown_key(located: _Located, loc: list[str]) -> str:
    """``unknown key (allowed: ...)``; inside a union member, which members take the key."""
    allowed = list(located.model.model_fields) if located.model is not None else []
    if located.tag is None:
        return f"unknown key (allowed: {', '.join(allowed)})"
    discriminator, value = located.tag
    noun = discriminator if discriminator == "kind" or len(loc) < 2 else loc[-2]  # kind ablation, scheduler asha
    takers = sorted(str(m.model_fields[discriminator].default) for m in located.members if loc[-1] in m.model_fields)
    elsewhere = f"an option of {noun}: {', '.join(takers)}; " if takers else ""
    return f"not an option of {noun} {value} ({elsewhere}allowed: {', '.join(allowed)})"
