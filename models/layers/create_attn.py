"""Attention blocks looked up by string: ``create_attn(name, channels, **kw)``.

Every block takes ``channels`` first and returns a tensor of the input's shape, so any block can
sit anywhere a residual block allows. ``None`` or ``"none"`` gives no block at all.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable

import torch.nn as nn

_attn_builders: dict[str, Callable[..., nn.Module]] = {}


def register_attn(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a block builder under ``name``; a duplicate name raises."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _attn_builders:
            raise ValueError(f"attention block {name!r} is already registered")
        _attn_builders[name] = builder
        return builder

    return decorate


def list_attn() -> list[str]:
    return sorted(_attn_builders)


def create_attn(name: str | None, channels: int, **kwargs: Any) -> nn.Module | None:
    """Build the attention block ``name`` for ``channels`` channels, or None for no block."""
    if name is None or name == "none":
        return None
    if name not in _attn_builders:
        hint = difflib.get_close_matches(name, list(_attn_builders), n=3)
        allowed = ", ".join(list_attn())
        extra = f"; did you mean {', '.join(hint)}?" if hint else ""
        raise ValueError(f"unknown attention {name!r}{extra} (allowed: {allowed}, none)")
    return _attn_builders[name](channels, **kwargs)
