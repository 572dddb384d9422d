"""Regularisers around the loop: timm's Mixup/CutMix and weight EMA, and early stopping.

Early stopping is written here because PyTorch has none and timm's lives inside its training
script; it keeps its state in the trainer checkpoint so a resumed run stops where it would have.
"""

from __future__ import annotations

from typing import Any, Optional

import torch.nn as nn

from .recipe import EarlyStoppingSpec, EmaSpec, MixupSpec
from .metrics import default_mode


def build_mixup(spec: Optional[MixupSpec], *, num_classes: int, label_smoothing: float):
    """timm's ``Mixup`` (it also applies the label smoothing to the mixed targets), or None."""
    if spec is None:
        return None
    from timm.data import Mixup

    return Mixup(
        mixup_alpha=spec.mixup_alpha, cutmix_alpha=spec.cutmix_alpha,
        cutmix_minmax=list(spec.cutmix_minmax) if spec.cutmix_minmax else None, prob=spec.prob,
        switch_prob=spec.switch_prob, mode=spec.mode, label_smoothing=label_smoothing,
        num_classes=num_classes,
    )


def build_ema(spec: Optional[EmaSpec], model: nn.Module):
    """timm's ``ModelEmaV3`` of ``model`` on the same device, or None."""
    if spec is None:
        return None
    from timm.utils import ModelEmaV3

    return ModelEmaV3(model, decay=spec.decay, use_warmup=spec.warmup)


class EarlyStopping:
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, spec: EarlyStoppingSpec) -> None:
        self.metric, self.patience, self.min_delta = spec.metric, spec.patience, spec.min_delta
        self.sign = 1.0 if (spec.mode or default_mode(spec.metric)) == "max" else -1.0
        self.best: Optional[float] = None
        self.bad_epochs = 0

    @property
    def stopped(self) -> bool:
        return self.bad_epochs >= self.patience

    def update(self, metrics: dict[str, float]) -> bool:
        """Record an epoch's metrics; True when training should stop."""
        value = self.sign * metrics[self.metric]
        if self.best is None or value > self.best + self.min_delta:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return self.stopped

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]
