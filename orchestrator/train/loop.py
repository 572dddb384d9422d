"""One training epoch, one evaluation pass, one reconstruction epoch, with every input explicit
(torchvision references style)."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.augment import Cutout
from .metrics import topk_correct

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the trial cannot recover."""


class DeviceMemoryError(torch.OutOfMemoryError):
    """The device ran out of memory. Torch's message names bytes and allocator settings; the trial
    layer records an error's last line as the reason a trial FAILED, so this one also names the
    run and the two knobs a sweep has: the batch and the trial's share of the GPU."""

    @classmethod
    def during(cls, error: torch.OutOfMemoryError, *, epoch: int, model: str, batch_size: int,
               dtype: Optional[torch.dtype]) -> DeviceMemoryError:
        lines = str(error).strip().splitlines()
        precision = str(dtype).removeprefix("torch.") if dtype is not None else "fp32"
        return cls(f"out of memory in epoch {epoch} ({model}, batch {batch_size}, {precision}): lower "
                   f"data.batch_size or raise resources.gpus_per_trial. {lines[0] if lines else ''}".strip())


def autocast_context(device: torch.device, dtype: Optional[torch.dtype]) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@dataclass(frozen=True)
class StepOptions:
    """How each optimizer step is taken, shared by classification and reconstruction epochs."""

    autocast_dtype: Optional[torch.dtype] = None
    scaler: Optional[torch.amp.GradScaler] = None
    grad_clip: Optional[float] = None
    on_step: Optional[Callable[[], None]] = None  # after every optimizer step (per-batch LR, EMA)


def optimizer_step(loss: torch.Tensor, model: nn.Module, optimizer: torch.optim.Optimizer,
                   options: StepOptions) -> None:
    """Backward, optional unscale + clip, step (through the grad scaler under fp16)."""
    optimizer.zero_grad(set_to_none=True)
    scaler = options.scaler
    if scaler is not None:
        scaler.scale(loss).backward()
    else:
        loss.backward()
    apply_gradients(model, optimizer, options)


def apply_gradients(model: nn.Module, optimizer: torch.optim.Optimizer, options: StepOptions) -> None:
    """After backward: optional unscale + clip, step (through the grad scaler under fp16).
    A fused run calls this per member once one backward has filled every member's gradients."""
    scaler = options.scaler
    if scaler is not None:
        scaler.unscale_(optimizer)
    if options.grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    if options.on_step is not None:
        options.on_step()


def epoch_summary(loss_sum: torch.Tensor, seen: int, start: float) -> dict[str, float]:
    mean_loss = loss_sum.item() / max(seen, 1)
    if not math.isfinite(mean_loss):
        raise NonFiniteLossError(f"training loss is {mean_loss}; the run diverged")
    return {"loss": mean_loss, "images": seen, "seconds": time.perf_counter() - start}


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Batches,
    device: torch.device,
    options: StepOptions = StepOptions(),
    *,
    mixup: Optional[Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = None,
    step: Optional[Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = None,
) -> dict[str, float]:
    """Train one pass over ``loader``: mean loss, top-1/top-5 (%) against the unmixed labels.

    ``step(images, targets) -> (logits, loss)`` takes the forward, backward and optimizer step
    itself (a captured CUDA graph, ``graphs.GraphedStep``); ``options.on_step`` still follows it."""
    model.train()
    start = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros(2, device=device, dtype=torch.long)
    seen = 0
    for images, labels in loader:
        targets = labels
        if mixup is not None:
            images, targets = mixup(images, labels)
        if step is not None:
            logits, loss = step(images, targets)
            if options.on_step is not None:
                options.on_step()
        else:
            with autocast_context(device, options.autocast_dtype):
                logits = model(images)
                loss = criterion(logits, targets)
            optimizer_step(loss, model, optimizer, options)
        loss_sum += loss.detach() * len(labels)
        correct += torch.stack(topk_correct(logits.detach(), labels, (1, 5)))
        seen += len(labels)
    top1, top5 = (100.0 * correct / max(seen, 1)).tolist()
    return {**epoch_summary(loss_sum, seen, start), "top1": top1, "top5": top5}


def reconstruction_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Batches,
    device: torch.device,
    options: StepOptions = StepOptions(),
    *,
    loss: str = "mse",
    mask: Optional[Cutout] = None,
    generator: Optional[torch.Generator] = None,
) -> dict[str, float]:
    """One pass of ``model.reconstruct``: the (optionally masked) image in, the whole image as target."""
    model.train()
    distance = {"mse": F.mse_loss, "l1": F.l1_loss}[loss]
    start = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    seen = 0
    for images, _ in loader:
        inputs = images if mask is None else mask(images, generator)
        with autocast_context(device, options.autocast_dtype):
            value = distance(model.reconstruct(inputs).float(), images)
        optimizer_step(value, model, optimizer, options)
        loss_sum += value.detach() * len(images)
        seen += len(images)
    return epoch_summary(loss_sum, seen, start)


Predictions = tuple[torch.Tensor, torch.Tensor]  # (labels, predicted classes) of a split


def joined(kept: list[Predictions]) -> Predictions:
    """Per-batch (labels, predicted classes) as one pair on the CPU."""
    labels, classes = zip(*kept)
    return torch.cat(labels).cpu(), torch.cat(classes).cpu()


def predicted_classes(model: nn.Module, loader: Batches, device: torch.device, *,
                      autocast_dtype: Optional[torch.dtype] = None) -> Predictions:
    """(labels, predicted classes) of every image of ``loader``, on the CPU."""
    return joined([(labels, logits.argmax(dim=1))
                   for logits, labels in predict(model, loader, device, autocast_dtype=autocast_dtype)])


@torch.no_grad()
def predict(model: nn.Module, loader: Batches, device: torch.device, *,
            autocast_dtype: Optional[torch.dtype] = None) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """``(logits, labels)`` per batch, in evaluation mode."""
    model.eval()
    for images, labels in loader:
        with autocast_context(device, autocast_dtype):
            yield model(images).float(), labels


def evaluate(
    model: nn.Module,
    criterion: nn.Module,
    loader: Batches,
    device: torch.device,
    *,
    autocast_dtype: Optional[torch.dtype] = None,
    keep: Optional[list[Predictions]] = None,
) -> dict[str, float]:
    """Mean loss, top-1 and top-5 (%) over ``loader``; ``keep`` collects (labels, predicted
    classes) per batch, so a final report of the same weights needs no second pass (``joined``)."""
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros(2, device=device, dtype=torch.long)
    seen = 0
    for logits, labels in predict(model, loader, device, autocast_dtype=autocast_dtype):
        if keep is not None:
            keep.append((labels, logits.argmax(dim=1)))
        loss_sum += criterion(logits, labels) * len(labels)
        correct += torch.stack(topk_correct(logits, labels, (1, 5)))
        seen += len(labels)
    top1, top5 = (100.0 * correct / max(seen, 1)).tolist()
    return {"loss": loss_sum.item() / max(seen, 1), "top1": top1, "top5": top5}
