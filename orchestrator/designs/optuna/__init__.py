"""Everything Optuna: the design, its samplers, its search space and Ray Tune's searcher."""

from __future__ import annotations

from .design import OptunaDesign, OptunaOptions

__all__ = ["OptunaDesign", "OptunaOptions"]
