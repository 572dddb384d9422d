"""One training epoch and one evaluation pass, with every input explicit (torchvision style)."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Iterable, Optional

import torch
import torch.nn as nn


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the trial cannot recover."""


def autocast_context(device: torch.device, dtype: Optional[torch.dtype]) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...]) -> list[torch.Tensor]:
    """Number of samples whose label is among the top-k logits, per k (tensors: no host sync)."""
    top = logits.topk(min(max(ks), logits.size(1)), dim=1).indices
    hits = top.eq(labels[:, None])
    return [hits[:, :k].any(dim=1).sum() for k in ks]


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    *,
    autocast_dtype: Optional[torch.dtype] = None,
    scaler: Optional[torch.amp.GradScaler] = None,
    grad_clip: Optional[float] = None,
) -> dict[str, float]:
    """Train for one pass over ``loader``; returns mean loss, top-1 (%), images and seconds."""
    model.train()
    start = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for images, labels in loader:
        with autocast_context(device, autocast_dtype):
            logits = model(images)
            loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        loss_sum += loss.detach() * len(labels)
        correct += topk_correct(logits.detach(), labels, (1,))[0]
        seen += len(labels)
    mean_loss = loss_sum.item() / max(seen, 1)
    if not math.isfinite(mean_loss):
        raise NonFiniteLossError(f"training loss is {mean_loss}; the run diverged")
    seconds = time.perf_counter() - start
    return {"loss": mean_loss, "top1": 100.0 * correct.item() / max(seen, 1), "images": seen, "seconds": seconds}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    criterion: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    *,
    autocast_dtype: Optional[torch.dtype] = None,
) -> dict[str, float]:
    """Mean loss, top-1 and top-5 (%) over ``loader``."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros(2, device=device, dtype=torch.long)
    seen = 0
    for images, labels in loader:
        with autocast_context(device, autocast_dtype):
            logits = model(images)
        loss_sum += criterion(logits.float(), labels) * len(labels)
        correct += torch.stack(topk_correct(logits, labels, (1, 5)))
        seen += len(labels)
    top1, top5 = (100.0 * correct / max(seen, 1)).tolist()
    return {"loss": loss_sum.item() / max(seen, 1), "top1": top1, "top5": top5}
