"""One fused training epoch and one fused evaluation: K members, one forward and one backward.

Each member draws its batch from its own loader (its seed's shuffling and augmentation), mixes
it with its own Mixup and numpy state, scores it with its own criterion (label smoothing), and
steps its own optimizer and schedule through the single trainer's ``apply_gradients``. Members
never share a number: the stacked forward is batched per member, and the one backward of the
summed losses gives each member exactly its own loss's gradient.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np
import torch
from torch.func import vmap

from .loop import NonFiniteLossError, Predictions, StepOptions, apply_gradients, autocast_context, epoch_summary
from .metrics import topk_correct

if TYPE_CHECKING:
    from .fused_stack import FusedStack
    from .trainer import Trainer

NumpyState = tuple  # what np.random.get_state() returns


@contextlib.contextmanager
def numpy_rng_of(states: list[NumpyState], index: int) -> Iterator[None]:
    """Run with member ``index``'s numpy RNG (timm's Mixup draws from the global one), and keep
    where it ended, so each member mixes exactly as it would alone."""
    np.random.set_state(states[index])
    try:
        yield
    finally:
        states[index] = np.random.get_state()


def _batched_correct(logits: torch.Tensor, labels: torch.Tensor, *, shared_labels: bool) -> torch.Tensor:
    """``(K, 2)`` top-1/top-5 hit counts of ``(K, B, classes)`` logits."""
    def count(member_logits: torch.Tensor, member_labels: torch.Tensor) -> torch.Tensor:
        return torch.stack(topk_correct(member_logits, member_labels, (1, 5)))

    return vmap(count, in_dims=(0, None if shared_labels else 0))(logits, labels)


def _mixed(members: list[Trainer], images: list[torch.Tensor], labels: list[torch.Tensor],
           numpy_states: list[NumpyState]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    targets = list(labels)
    for k, member in enumerate(members):
        if member.mixup is not None:
            with numpy_rng_of(numpy_states, k):
                images[k], targets[k] = member.mixup(images[k], labels[k])
    return images, targets


def _step(stack: FusedStack, members: list[Trainer], losses: list[torch.Tensor]) -> None:
    """One backward for all members, then each member's own clip, optimizer step and schedule."""
    scaled = [m.scaler.scale(loss) if m.scaler is not None else loss for m, loss in zip(members, losses)]
    torch.stack(scaled).sum().backward()
    stack.take_gradients()
    for member in members:
        options = StepOptions(member.autocast_dtype, member.scaler, member.recipe.grad_clip, member._after_step)
        apply_gradients(member.model, member.optimizer, options)


def train_fused_epoch(stack: FusedStack, members: list[Trainer],
                      numpy_states: list[NumpyState]) -> list[dict[str, float] | NonFiniteLossError]:
    """Per member: the stage metrics ``Trainer`` books (loss, top-1/5, images, seconds), or the
    error that says its loss diverged (the others are unaffected)."""
    device, dtype = members[0].device, members[0].autocast_dtype
    start = time.perf_counter()
    loss_sum = torch.zeros(len(members), device=device)
    correct = torch.zeros(len(members), 2, device=device, dtype=torch.long)
    seen = 0
    for batches in zip(*(member.train_loader for member in members)):
        images, labels = (list(part) for part in zip(*batches))
        images, targets = _mixed(members, images, labels, numpy_states)
        with autocast_context(device, dtype):
            logits = stack.forward(torch.stack(images), train=True)
            losses = [m.criterion(logits[k], targets[k]) for k, m in enumerate(members)]
        _step(stack, members, losses)
        size = len(labels[0])
        loss_sum += torch.stack(losses).detach() * size
        correct += _batched_correct(logits.detach(), torch.stack(labels), shared_labels=False)
        seen += size
    top = (100.0 * correct / max(seen, 1)).tolist()
    results: list[dict[str, float] | NonFiniteLossError] = []
    for k in range(len(members)):
        try:
            stats = epoch_summary(loss_sum[k], seen, start)
        except NonFiniteLossError as error:
            results.append(error)
            continue
        results.append({"train/loss": stats["loss"], "train/top1": top[k][0], "train/top5": top[k][1],
                        "images": stats["images"], "seconds": stats["seconds"]})
    return results


@torch.no_grad()
def evaluate_fused(stack: FusedStack, criterion: torch.nn.Module, loader, device: torch.device, *,
                   autocast_dtype: Optional[torch.dtype] = None,
                   keep: Optional[list[list[Predictions]]] = None) -> list[dict[str, float]]:
    """``loop.evaluate`` for every member at once: the split's batches are read once and seen by
    all members; ``keep[k]`` collects member k's (labels, predicted classes)."""
    count = len(stack)
    loss_sum = torch.zeros(count, device=device)
    correct = torch.zeros(count, 2, device=device, dtype=torch.long)
    seen = 0
    for images, labels in loader:
        with autocast_context(device, autocast_dtype):
            logits = stack.forward(images, train=False, shared_input=True).float()
        if keep is not None:
            for k in range(count):
                keep[k].append((labels, logits[k].argmax(dim=1)))
        loss_sum += vmap(criterion, in_dims=(0, None))(logits, labels) * len(labels)
        correct += _batched_correct(logits, labels, shared_labels=True)
        seen += len(labels)
    losses = (loss_sum / max(seen, 1)).tolist()
    top = (100.0 * correct / max(seen, 1)).tolist()
    return [{"loss": losses[k], "top1": top[k][0], "top5": top[k][1]} for k in range(count)]
