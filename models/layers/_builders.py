"""A name -> builder table shared by the attention and conv-block factories.

Unlike timm's if-chains, blocks are registered by decorator; registering a name twice raises so
two block files can never shadow each other, and an unknown name lists close matches.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable

import torch.nn as nn

Builder = Callable[..., nn.Module]


class BuilderTable:
    """Builders of one kind of block ("attention", "conv"), looked up by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Builder] = {}

    def register(self, name: str) -> Callable[[Builder], Builder]:
        def decorate(builder: Builder) -> Builder:
            if name in self._builders:
                raise ValueError(f"{self.kind} block {name!r} is already registered")
            self._builders[name] = builder
            return builder

        return decorate

    def names(self) -> list[str]:
        return sorted(self._builders)

    def build(self, name: str, *args: Any, **kwargs: Any) -> nn.Module:
        if name not in self._builders:
            hint = difflib.get_close_matches(name, list(self._builders), n=3)
            extra = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise ValueError(f"unknown {self.kind} {name!r}{extra} (allowed: {', '.join(self.names())})")
        return self._builders[name](*args, **kwargs)
