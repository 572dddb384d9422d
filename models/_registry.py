"""Model registry: ``@register_model`` entry points looked up by name.

Keyed by the entry point's function name, as in timm. Unlike timm, registering a name twice
raises (as torchvision's registry does), so two families can never shadow each other silently.
Names starting with ``timm/`` pass through to :func:`timm.create_model`.

An entry point may carry the input side it is meant for (``@input_size(64)`` for Tiny-ImageNet,
224 where the architecture fixes it); ``orchestrate models`` profiles each model at that size.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from typing import Annotated, Any, Callable

import torch.nn as nn
from pydantic import Field

from ._helpers import create_timm
from ._weights import recording_weights

# A dropout or stochastic-depth probability. Checked where a spec is read (the option's
# annotation): timm's DropPath takes any number and fails at the first training step.
DropRate = Annotated[float, Field(ge=0, lt=1)]

TIMM_PREFIX = "timm/"
DEFAULT_INPUT_SIZE = 32  # CIFAR, the seeds' usual dataset

_model_entrypoints: dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(KeyError):
    """Raised for a name that is neither registered nor a ``timm/`` name."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register ``fn`` under its own name; a second registration of the name raises."""
    name = fn.__name__
    if name in _model_entrypoints:
        raise ValueError(f"model {name!r} is already registered")
    _model_entrypoints[name] = fn
    return fn


def register_variant(name: str, entry: Callable[..., nn.Module], doc: str) -> Callable[..., nn.Module]:
    """Register ``entry`` under ``name``: for families whose variants share one signature and
    differ only in constants, so a factory closes over the constants instead of repeating it."""
    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = doc
    return register_model(entry)


def input_size(size: int) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Mark an entry point with the square input side it is built for (apply under ``register_model``)."""

    def mark(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        fn.default_input_size = size  # type: ignore[attr-defined]
        return fn

    return mark


def default_input_size(name: str) -> int:
    """The input side ``name`` is meant for: its mark, else 32 (224 for ``timm/`` names)."""
    if name.startswith(TIMM_PREFIX):
        return 224
    if name not in _model_entrypoints:
        raise UnknownModelError(unknown_model_message(name))
    return getattr(_model_entrypoints[name], "default_input_size", DEFAULT_INPUT_SIZE)


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _model_entrypoints if fnmatch.fnmatch(n, pattern))


def close_matches(name: str) -> list[str]:
    return difflib.get_close_matches(name, list(_model_entrypoints), n=3, cutoff=0.5)


def unknown_model_message(name: str) -> str:
    hint = close_matches(name)
    suffix = f"; did you mean {', '.join(hint)}?" if hint else "; see `orchestrate models`"
    return f"unknown model {name!r}{suffix} (or use timm/<name> for any timm model)"


def is_model(name: str) -> bool:
    return name in _model_entrypoints or name.startswith(TIMM_PREFIX)


def model_options(name: str) -> dict[str, inspect.Parameter] | None:
    """Keyword options of a model, None when any are accepted; unknown names raise KeyError."""
    if name.startswith(TIMM_PREFIX):
        return None  # timm forwards **kwargs to each architecture; it validates them itself
    if name not in _model_entrypoints:
        raise UnknownModelError(unknown_model_message(name))
    fn = _model_entrypoints[name]
    try:  # annotations as types, so that a spec's options are checked against them
        params = inspect.signature(fn, eval_str=True).parameters
    except (NameError, TypeError, SyntaxError):  # a name only a type checker sees
        params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return dict(params)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model (or ``timm/<name>``) with keyword options."""
    if name.startswith(TIMM_PREFIX):
        return create_timm(name[len(TIMM_PREFIX):], **kwargs)
    if name not in _model_entrypoints:
        raise UnknownModelError(unknown_model_message(name))
    return _model_entrypoints[name](**kwargs)


def needed_weights(name: str, **options: Any) -> tuple[list[str], nn.Module]:
    """(the pretrained weights model ``name`` with ``options`` loads, the model built on the meta
    device without them): its ``pretrained_cfg`` says the input size the weights expect."""
    import torch

    with recording_weights() as names, torch.device("meta"):
        model = create_model(name, **options)
    return names, model
