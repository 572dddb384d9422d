"""Which trial configs can train fused: the same tensor shapes everywhere, one data pipeline.

Members of a fused run share the stacked forward (model, input size, batch, precision, device)
and one validation pass, so everything about the data and the model must be equal. What each
member owns outright may differ: its seed, its optimizer (name, LR, weight decay, momentum, ...),
its LR schedule, label smoothing, gradient clipping, mixup, EMA, early stopping and epoch count.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .config import TrialConfig

# Dotted config keys (and everything below them) that a member may set on its own.
SHAPE_FREE = (
    "train.seed", "train.optimizer", "train.scheduler", "train.label_smoothing", "train.grad_clip",
    "train.mixup", "train.ema", "train.early_stopping", "train.epochs",
)
MISSING = "(not set)"


def _flat(tree: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flat(value, f"{path}.")
        else:
            yield path, value


def _shaping(config: TrialConfig | dict[str, Any]) -> dict[str, Any]:
    """The config's values that every member of a fused run must share."""
    if not isinstance(config, TrialConfig):
        config = TrialConfig.of_plan(config)
    dumped = config.model_dump(mode="json")
    return {key: value for key, value in _flat(dumped)
            if not any(key == free or key.startswith(f"{free}.") for free in SHAPE_FREE)}


def _unfusable_recipe(config: TrialConfig) -> str | None:
    if config.train.pretrain is not None:
        return "train.pretrain: reconstruction pre-training trains unfused"
    if config.train.compile:
        return "train.compile: a fused step runs under torch.func.vmap, which is not compiled here"
    return None


def fusable(configs: Sequence[TrialConfig | dict[str, Any]]) -> tuple[bool, str]:
    """(True, "") when ``configs`` can train as members of one fused model, else (False, one
    line naming the first key that differs, or the feature that does not fuse)."""
    if not configs:
        return False, "no trials to fuse"
    validated = [c if isinstance(c, TrialConfig) else TrialConfig.of_plan(c) for c in configs]
    for config in validated:
        reason = _unfusable_recipe(config)
        if reason:
            return False, reason
    first = _shaping(validated[0])
    # Numbered from 1, as the dry run's table of trials is, so the line points at its rows.
    for number, config in enumerate(validated[1:], start=2):
        other = _shaping(config)
        for key in sorted(first.keys() | other.keys()):
            a, b = first.get(key, MISSING), other.get(key, MISSING)
            if a != b:
                return False, (f"trial {number} differs from trial 1 in {key} ({b!r} vs {a!r}); fused "
                               f"members may differ only in {', '.join(SHAPE_FREE)}")
    return True, ""
