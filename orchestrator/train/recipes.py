"""Optimizers and LR schedulers by name, as torchvision's references build them.

Each builder takes the spec's options as keywords; ``optimizer_options``/``scheduler_options``
expose the signatures so a spec with a wrong option is refused before any trial starts.
Schedulers here are stepped once per epoch.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from ..options import lookup_in


def sgd(params: Iterable, *, lr: float, weight_decay: float, momentum: float = 0.9,
        nesterov: bool = False) -> Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


def adamw(params: Iterable, *, lr: float, weight_decay: float,
          betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8) -> Optimizer:
    return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


def cosine(optimizer: Optimizer, epochs: int, *, min_lr: float = 0.0) -> LRScheduler:
    """Cosine annealing from the base LR to ``min_lr`` over the (post-warmup) epochs."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1), eta_min=min_lr)


def step(optimizer: Optimizer, epochs: int, *, step_size: int = 30, gamma: float = 0.1) -> LRScheduler:
    """Multiply the LR by ``gamma`` every ``step_size`` epochs."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


def multistep(optimizer: Optimizer, epochs: int, *, milestones: Sequence[int] | None = None,
              gamma: float = 0.1) -> LRScheduler:
    """Multiply the LR by ``gamma`` at each milestone epoch; default: at 50% and 75% of training."""
    if milestones is None:
        milestones = [epochs // 2, epochs * 3 // 4]
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)


def constant(optimizer: Optimizer, epochs: int) -> LRScheduler:
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


OPTIMIZERS = {"sgd": sgd, "adamw": adamw}
SCHEDULERS = {"cosine": cosine, "step": step, "multistep": multistep, "constant": constant}

optimizer_options = lookup_in("optimizer", OPTIMIZERS, supplied=("params", "lr", "weight_decay"))
scheduler_options = lookup_in("scheduler", SCHEDULERS, supplied=("optimizer", "epochs"))


def build_optimizer(name: str, params: Iterable, *, lr: float, weight_decay: float,
                    **options: Any) -> Optimizer:
    optimizer_options(name)  # raises with the valid names when unknown
    return OPTIMIZERS[name](params, lr=lr, weight_decay=weight_decay, **options)


def build_scheduler(name: str, optimizer: Optimizer, *, epochs: int, warmup_epochs: int = 0,
                    **options: Any) -> LRScheduler:
    """``name``'s schedule, preceded by ``warmup_epochs`` of linear warmup from 1% of the LR."""
    scheduler_options(name)
    main = SCHEDULERS[name](optimizer, epochs - warmup_epochs, **options)
    if warmup_epochs == 0:
        return main
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup_epochs)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[warmup_epochs])
