"""Attention blocks looked up by string: ``create_attn(name, channels, **kw)``.

Every block takes ``channels`` first and returns a tensor of the input's shape, so any block can
sit anywhere a residual block allows. ``None`` or ``"none"`` gives no block at all.
"""

from __future__ import annotations

from typing import Any, Callable

import torch.nn as nn

from ._builders import Builder, BuilderTable

_attn = BuilderTable("attention")


def register_attn(name: str) -> Callable[[Builder], Builder]:
    """Register a block builder under ``name``; a duplicate name raises."""
    return _attn.register(name)


def list_attn() -> list[str]:
    return _attn.names()


def create_attn(name: str | None, channels: int, **kwargs: Any) -> nn.Module | None:
    """Build the attention block ``name`` for ``channels`` channels, or None for no block."""
    if name is None or name == "none":
        return None
    return _attn.build(name, channels, **kwargs)
