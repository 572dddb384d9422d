"""Whole training steps as CUDA graphs (``train.cuda_graphs``): forward, loss, backward, gradient
clipping and the optimizer step captured once and replayed for every later batch.

At small batches a step of a small CNN is bound by kernel launches and Python, not arithmetic
(ResNet-20 at batch 128 on an H200: ~9 ms a step for ~0.3 GFLOP an image); a replayed graph
launches the whole step at once. The recipe follows torch's "whole network capture": warm-up
steps on a side stream (cuDNN's autotuner, lazily created optimizer state), gradients set to
None before capture, autocast without its weight cache, and an optimizer whose step reads no
value from the host: fused SGD, or Adam/AdamW with ``capturable``, each with its learning rate
in a device tensor that the schedule fills. Batch norm's running statistics (and its batch
counter) are updated in place by the captured forward, so every replay updates them.

What stays outside the graph: the batch itself (augmentation and mixup run before it and are
copied into the graph's input), per-step LR schedules and the weight average (after it), the
metrics (read from its outputs), evaluation, and reconstruction pre-training epochs.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

import torch
import torch.nn as nn
from torch import Tensor

from ..data import InMemoryLoader
from .recipe import TrainSpec
from .setup import resolve_amp

log = logging.getLogger(__name__)

GRAPH_OPTIMIZERS = ("sgd", "adam", "adamw")  # those whose step can read its LR from the device
WARMUP_STEPS = 3  # eager steps before capture: cuDNN's autotuner and the optimizer's state settle
# Hyperparameters a captured step bakes in as constants: a change means capturing again.
BAKED = ("weight_decay", "momentum", "betas", "eps", "dampening", "nesterov", "maximize")

StepFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def spec_reason(train: TrainSpec, device: torch.device, autocast_dtype: Optional[torch.dtype]) -> Optional[str]:
    """Why a trial of this recipe cannot capture its step on ``device`` (None: it can)."""
    if device.type != "cuda":
        return f"the trial trains on {device.type} (CUDA graphs need CUDA)"
    if train.compile:
        return "train.compile is on (torch.compile makes its own graphs with mode='reduce-overhead')"
    if autocast_dtype == torch.float16:
        return "fp16's grad scaler reads the gradients' finiteness on the host every step (use amp: bf16)"
    if train.optimizer.name not in GRAPH_OPTIMIZERS:
        return f"optimizer {train.optimizer.name} has no step that reads its LR from the device " \
               f"(graphs take: {', '.join(GRAPH_OPTIMIZERS)})"
    scheduler = train.scheduler
    if scheduler.name == "onecycle" and scheduler.options.get("cycle_momentum", True):
        return "scheduler onecycle cycles the momentum every step, which a graph holds fixed " \
               "(set train.scheduler.cycle_momentum: false)"
    return None


def shape_reason(num_images: int, batch_size: int, drop_last: bool) -> Optional[str]:
    """Why the training batches do not all share one shape (None: they do)."""
    batches, rest = divmod(num_images, batch_size)
    if rest and batches and not drop_last:
        return f"the last training batch has {rest} images, the others {batch_size} (dynamic shapes)"
    return None


def resolve_cuda_graphs(choice: str, reason: Optional[str]) -> bool:
    """``auto``: capture when nothing stands in the way; ``on`` with a reason is an error."""
    if choice == "on" and reason is not None:
        raise ValueError(f"train.cuda_graphs: on, but {reason}; allowed: auto or off")
    return choice != "off" and reason is None


def make_capturable(optimizer: torch.optim.Optimizer, device: torch.device) -> list[Tensor]:
    """Switch the optimizer to a step that reads nothing from the host; returns its LR tensors."""
    lrs = []
    for group in optimizer.param_groups:
        if isinstance(optimizer, torch.optim.SGD):
            group["fused"] = True  # the fused kernel takes the LR as a tensor
        else:
            group["capturable"] = True  # Adam/AdamW: step counts and LR on the device
        for param in group["params"]:  # a state loaded from an uncaptured run keeps its step on the host
            state = optimizer.state.get(param, {})
            if torch.is_tensor(state.get("step")) and state["step"].device != device:
                state["step"] = state["step"].to(device, torch.float32)
        lr = torch.tensor(float(group["lr"]), device=device)
        group["lr"] = lr
        lrs.append(lr)
    return lrs


def sync_lrs(optimizer: torch.optim.Optimizer, lrs: list[Tensor]) -> None:
    """Keep each group's LR in the tensor a graph reads, whatever a schedule wrote there (torch's
    schedulers fill a tensor LR in place; a float written over it is copied back in)."""
    for group, lr in zip(optimizer.param_groups, lrs):
        if group["lr"] is not lr:
            lr.fill_(group["lr"])
            group["lr"] = lr


class GraphedStep:
    """Callable ``(images, targets) -> (logits, loss)`` that trains one step: eagerly for the first
    ``warmup`` calls, then by replaying one captured graph. The outputs of a replay are the graph's
    own tensors, overwritten by the next call."""

    def __init__(self, model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, *,
                 autocast_dtype: Optional[torch.dtype] = None, grad_clip: Optional[float] = None,
                 warmup: int = WARMUP_STEPS, required: bool = False) -> None:
        self.model, self.criterion, self.optimizer = model, criterion, optimizer
        self.autocast_dtype, self.grad_clip = autocast_dtype, grad_clip
        self.device = next(model.parameters()).device
        self.required = required
        self.stream = torch.cuda.Stream(self.device)
        self.warmup, self.replays = warmup, 0
        self.lrs: list[Tensor] = []  # empty: the optimizer is to be made capturable first
        self.graph: Optional[torch.cuda.CUDAGraph] = None
        self.static: tuple[Tensor, ...] = ()  # images, targets, logits, loss
        self.baked: list[dict[str, Any]] = []
        self.failed: Optional[str] = None  # why capture failed (auto then trains eagerly)
        # A loaded optimizer state brings new buffers (and groups): the graph would update the old ones.
        optimizer.register_load_state_dict_post_hook(lambda _: self.reset())

    def reset(self) -> None:
        """Capture again before the next replay, after one eager step."""
        self.graph, self.lrs, self.warmup = None, [], max(self.warmup, 1)

    def _step(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        context = (torch.autocast("cuda", dtype=self.autocast_dtype, cache_enabled=False)
                   if self.autocast_dtype is not None else torch.autocast("cuda", enabled=False))
        with context:
            logits = self.model(images)
            loss = self.criterion(logits, targets)
        loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip, foreach=True)
        self.optimizer.step()
        return logits, loss

    def _hyperparameters(self) -> list[dict[str, Any]]:
        return [{key: group.get(key) for key in BAKED} for group in self.optimizer.param_groups]

    def _capture(self, images: Tensor, targets: Tensor) -> None:
        self.static = (images.clone(), targets.clone())
        self.optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=self.stream):
            logits, loss = self._step(*self.static)
        self.static = (*self.static, logits, loss)
        self.baked = self._hyperparameters()

    def _eager(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """One uncaptured step on the side stream (torch's rule for steps before a capture)."""
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.stream):
            out = self._step(images, targets)
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        return out

    def __call__(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        if self.failed is not None:
            return self._eager(images, targets)
        if not self.lrs:
            self.lrs = make_capturable(self.optimizer, self.device)
        sync_lrs(self.optimizer, self.lrs)
        if self.warmup > 0:
            self.warmup -= 1
            return self._eager(images, targets)
        if self.graph is None or self.baked != self._hyperparameters():
            try:
                self._capture(images, targets)  # records only: the replay below runs it
            except RuntimeError as error:  # an op that reads from the host, a data-dependent shape
                if self.required:
                    raise
                self.failed = f"capture failed: {str(error).strip().splitlines()[0]}"
                log.warning("training steps not captured: %s", self.failed)
                self.graph = None
                return self._eager(images, targets)
        static_images, static_targets, logits, loss = self.static
        static_images.copy_(images)
        static_targets.copy_(targets)
        self.graph.replay()
        self.replays += 1
        return logits, loss


def graph_state(graphed: Optional[GraphedStep], reason: Optional[str]) -> str:
    """What a trial's run records: ``on`` while its steps replay a captured graph, else ``off: why``
    (the recipe, the device, the batch shapes, or a capture that failed and fell back to eager)."""
    if graphed is None:
        return f"off: {reason}"
    return f"off: {graphed.failed}" if graphed.failed else "on"


def graphed_step(train: TrainSpec, model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer,
                 loader: InMemoryLoader) -> tuple[Optional[GraphedStep], Optional[str]]:
    """The trainer's choice for the training batches of ``loader`` (on the trial's device): (the
    graphed step or None, the reason when there is none)."""
    if train.cuda_graphs == "off":
        return None, "train.cuda_graphs: off"
    autocast_dtype = resolve_amp(train.amp, loader.device)
    reason = (spec_reason(train, loader.device, autocast_dtype)
              or shape_reason(loader.num_images, loader.batch_size, loader.drop_last))
    if not resolve_cuda_graphs(train.cuda_graphs, reason):
        log.info("training steps not captured: %s", reason)
        return None, reason
    return GraphedStep(model, criterion, optimizer, autocast_dtype=autocast_dtype, grad_clip=train.grad_clip,
                       required=train.cuda_graphs == "on"), None
