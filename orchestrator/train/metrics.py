"""Names of the metrics an epoch reports, and the top-k count they are built from."""

from __future__ import annotations

import torch

from ..tracking.names import BASE_LR, BEST_TOP1, LR, TEST_AT_BEST, TEST_TOP1, TOP1, WEIGHT_DECAY

# Every key an epoch's metrics may hold, in the order ``Trainer.run_epoch`` reports them. Keys
# of switched-off features (EMA, pre-training) are absent from that epoch's dict.
EPOCH_METRICS = (
    "epoch", "train/loss", "train/top1", "train/top5", "val/loss", TOP1, "val/top5",
    BEST_TOP1, "val/best_epoch", "val/top5_at_best", "val/ema_loss", "val/ema_top1",
    "val/ema_top5", "test/loss", TEST_TOP1, "test/top5", TEST_AT_BEST, "pretrain/loss", LR,
    BASE_LR, WEIGHT_DECAY, "time/epoch_seconds", "time/images_per_second", "time/train_seconds", "model/params",
)


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...]) -> list[torch.Tensor]:
    """Number of samples whose label is among the top-k logits, per k (tensors: no host sync)."""
    top = logits.topk(min(max(ks), logits.size(1)), dim=1).indices
    hits = top.eq(labels[:, None])
    return [hits[:, :k].any(dim=1).sum() for k in ks]


def default_mode(metric: str) -> str:
    """``min`` for losses and times, ``max`` for accuracies: which way is better."""
    return "min" if metric.endswith("loss") or metric.startswith("time/") else "max"
