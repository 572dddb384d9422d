"""Check a named builder and its keyword options against the builder's signature.

Models, datasets, optimizers and schedulers are all "a name plus options" in a spec. Checking the
options against the builder's signature up front turns a typo into a spec error instead of a
``TypeError`` in a trial an hour later.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Optional

from pydantic import TypeAdapter, ValidationError
from pydantic.errors import PydanticSchemaGenerationError

from .errors import OptionError

def check_options(
    kind: str,
    name: str,
    lookup: Callable[[str], Optional[dict[str, inspect.Parameter]]],
    options: dict[str, Any],
    *,
    key: str = "",
    name_key: str = "name",
    types: bool = True,
    required: bool = False,
) -> None:
    """Raise :class:`OptionError` for an unknown ``name`` or an option its builder does not take
    (with ``required``, also for one it needs that has no default: for a builder not run when the
    spec is read, such as a dataset's decoder).

    ``lookup(name)`` returns the builder's parameters, None when it takes any keyword, and raises
    ``KeyError`` with a helpful message for an unknown name.
    """
    try:
        params = lookup(name)
    except KeyError as exc:
        raise OptionError(name_key, str(exc.args[0])) from None
    if params is None:
        return
    allowed = list(params)
    prefix = f"{key}." if key else ""
    for option, value in options.items():
        if option not in allowed:
            hint = difflib.get_close_matches(option, allowed, n=1)
            extra = f"did you mean {hint[0]!r}? " if hint else ""
            raise OptionError(
                f"{prefix}{option}",
                f"{kind} {name} has no option {option!r}; {extra}allowed: {', '.join(allowed) or 'none'}",
            )
        wrong = type_error(params[option].annotation, value) if types else ""
        if wrong:
            raise OptionError(f"{prefix}{option}", f"{kind} {name}: {wrong} (got {value!r})")
    if not required:
        return
    missing = [option for option, param in params.items() if param.default is inspect.Parameter.empty
               and param.kind is not inspect.Parameter.VAR_POSITIONAL and option not in options]
    if missing:
        raise OptionError(f"{prefix}{missing[0]}", f"{kind} {name} needs option {missing[0]!r}, which has no default")


# Strict validation's errors for text where a number or a switch is annotated.
QUOTED_SCALAR_ERRORS = {"float_type", "int_type", "bool_type"}


def type_error(annotation: Any, value: Any) -> str:
    """Why ``value`` is not of the builder's annotated type ('' when it is, or when the annotation
    says nothing pydantic can check). A value the builder reads only late (a step schedule's
    ``gamma`` at its first cut, epochs into a trial) is refused when the spec is read instead."""
    if annotation is inspect.Parameter.empty or isinstance(annotation, str):
        return ""  # unannotated, or a name that did not resolve: the builder checks it
    try:
        _adapter(annotation).validate_python(value)
        if isinstance(value, str):
            # Lax validation reads "0.5" as a number, but the builder is given the text itself:
            # a step schedule's gamma: "0.5" failed at its first cut, 30 epochs into each trial.
            _adapter(annotation).validate_python(value, strict=True)
    except ValidationError as exc:
        quoted = isinstance(value, str) and exc.errors()[0]["type"] in QUOTED_SCALAR_ERRORS
        return exc.errors()[0]["msg"] + (", not text in quotes" if quoted else "")
    except (PydanticSchemaGenerationError, TypeError):
        return ""  # a type pydantic has no schema for
    return ""


@functools.lru_cache(maxsize=None)
def _adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation)


def signature_options(builder: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    """Keyword parameters of ``builder``, or None when it accepts ``**kwargs``."""
    try:  # annotations as types (modules written with `from __future__ import annotations` hold text)
        params = inspect.signature(builder, eval_str=True).parameters
    except (NameError, TypeError, SyntaxError):
        params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return dict(params)


def lookup_in(
    kind: str, registry: dict[str, Callable[..., Any]], *, supplied: tuple[str, ...] = ()
) -> Callable[[str], dict[str, inspect.Parameter] | None]:
    """A ``lookup`` for :func:`check_options` over a name -> builder dict.

    ``supplied`` names the arguments the caller passes itself (never from a spec).
    """

    def lookup(name: str) -> dict[str, inspect.Parameter] | None:
        if name not in registry:
            hint = difflib.get_close_matches(name, list(registry), n=2)
            extra = f"did you mean {', '.join(hint)}? " if hint else ""
            raise KeyError(f"unknown {kind} {name!r}; {extra}allowed: {', '.join(sorted(registry))}")
        params = signature_options(registry[name])
        return None if params is None else {k: v for k, v in params.items() if k not in supplied}

    return lookup
