"""Model registry: ``@register_model`` entry points looked up by name.

Keyed by the entry point's function name, as in timm. Unlike timm, registering a name twice
raises (as torchvision's registry does), so two families can never shadow each other silently.
Names starting with ``timm/`` pass through to :func:`timm.create_model`.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from typing import Any, Callable

import torch.nn as nn

TIMM_PREFIX = "timm/"

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
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return dict(params)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model (or ``timm/<name>``) with keyword options."""
    if name.startswith(TIMM_PREFIX):
        import timm  # imported lazily: only passthrough names need it at build time

        return timm.create_model(name[len(TIMM_PREFIX):], **kwargs)
    if name not in _model_entrypoints:
        raise UnknownModelError(unknown_model_message(name))
    return _model_entrypoints[name](**kwargs)
