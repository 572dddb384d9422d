"""LR schedules by name, each stepped per epoch or per batch as its definition requires.

A builder gets the optimizer, the number of scheduler steps it spans (``total``: epochs, or
batches for a per-batch schedule, after any warm-up) and ``steps_per_epoch`` (1 when stepped per
epoch), so options written in epochs (a cyclic half-cycle) convert either way. ``plateau`` is
stepped with a validation metric after each evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from ..options import lookup_in
from .cyclic import CyclicFactor
from .metrics import TOP1, default_mode

Schedule = LRScheduler | ReduceLROnPlateau


def cosine(optimizer: Optimizer, total: int, steps_per_epoch: int, *, min_lr: float = 0.0) -> Schedule:
    """Cosine annealing from the base LR to ``min_lr`` (Loshchilov & Hutter 2017, no restarts)."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total, 1), eta_min=min_lr)


def step(optimizer: Optimizer, total: int, steps_per_epoch: int, *, step_size: int = 30,
         gamma: float = 0.1) -> Schedule:
    """Multiply the LR by ``gamma`` every ``step_size`` steps (seed 000: halve every 5 epochs)."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


def multistep(optimizer: Optimizer, total: int, steps_per_epoch: int, *,
              milestones: Optional[Sequence[int]] = None, gamma: float = 0.1) -> Schedule:
    """Multiply the LR by ``gamma`` at each milestone; default: at 50% and 75% of training."""
    if milestones is None:
        milestones = [total // 2, total * 3 // 4]
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)


def exponential(optimizer: Optimizer, total: int, steps_per_epoch: int, *, gamma: float = 0.95) -> Schedule:
    """Multiply the LR by ``gamma`` every step."""
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


def constant(optimizer: Optimizer, total: int, steps_per_epoch: int) -> Schedule:
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _peaks(optimizer: Optimizer, lr: Optional[float]) -> list[float]:
    """Per-group peak LRs: ``lr`` (default: the optimizer's) times each group's ``lr_scale``."""
    return [(lr or group["lr"] / group.get("lr_scale", 1.0)) * group.get("lr_scale", 1.0)
            for group in optimizer.param_groups]


def onecycle(optimizer: Optimizer, total: int, steps_per_epoch: int, *, max_lr: Optional[float] = None,
             pct_start: float = 0.3, div_factor: float = 25.0, final_div_factor: float = 1e4,
             anneal_strategy: str = "cos", cycle_momentum: bool = True, three_phase: bool = False) -> Schedule:
    """Smith & Topin's one-cycle: from ``max_lr / div_factor`` up to ``max_lr`` (default: the
    optimizer's LR) over ``pct_start`` of training, then down to ``max_lr / div_factor / final_div_factor``."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=_peaks(optimizer, max_lr), total_steps=max(total, 1), pct_start=pct_start,
        div_factor=div_factor, final_div_factor=final_div_factor, anneal_strategy=anneal_strategy,
        cycle_momentum=cycle_momentum, three_phase=three_phase,
    )


def cyclic(optimizer: Optimizer, total: int, steps_per_epoch: int, *, max_lr: float,
           base_lr: Optional[float] = None, step_size_up_epochs: float = 2.0, mode: str = "triangular2",
           gamma: float = 1.0, cut_epochs: Sequence[int] = (), cut_factor: float = 0.1,
           restart_epochs: Sequence[int] = ()) -> Schedule:
    """Smith's cyclical LR between ``base_lr`` (default: the optimizer's) and ``max_lr``; a
    half-cycle lasts ``step_size_up_epochs`` (Smith 2017 suggests 2-10); ``triangular2`` halves the
    amplitude every cycle. Momentum is not cycled, so it works with Adam (seed 004). From each of
    ``cut_epochs`` both bounds are multiplied by ``cut_factor``; at each of ``restart_epochs`` the
    cycle starts over (seed 004's DenseNet: :mod:`.cyclic`)."""
    half = max(1, round(step_size_up_epochs * steps_per_epoch))
    bases, peaks = _peaks(optimizer, base_lr), _peaks(optimizer, max_lr)
    if not cut_epochs and not restart_epochs:
        return torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr=bases, max_lr=peaks, step_size_up=half,
                                                 mode=mode, gamma=gamma, cycle_momentum=False)
    cuts = tuple(epoch * steps_per_epoch for epoch in cut_epochs)
    restarts = tuple(epoch * steps_per_epoch for epoch in restart_epochs)
    factors = [CyclicFactor(base, peak, group["lr"], half, mode, gamma, cuts, cut_factor, restarts)
               for base, peak, group in zip(bases, peaks, optimizer.param_groups)]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)


def plateau(optimizer: Optimizer, total: int, steps_per_epoch: int, *, metric: str = TOP1,
            mode: Optional[str] = None, factor: float = 0.1, patience: int = 10,
            threshold: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> Schedule:
    """Multiply the LR by ``factor`` when ``metric`` has not improved for ``patience`` epochs:
    the seeds' manual "divide by 10 when validation accuracy stops improving"."""
    return ReduceLROnPlateau(optimizer, mode=mode or default_mode(metric), factor=factor, patience=patience,
                             threshold=threshold, cooldown=cooldown, min_lr=min_lr)


@dataclass(frozen=True)
class SchedulerKind:
    build: Callable[..., Schedule]
    intervals: tuple[str, ...]  # the first is the default
    warmup: bool = True  # combines with a separate linear warm-up


LR_SCHEDULES = {
    "cosine": SchedulerKind(cosine, ("epoch", "step")),
    "step": SchedulerKind(step, ("epoch", "step")),
    "multistep": SchedulerKind(multistep, ("epoch", "step")),
    "exponential": SchedulerKind(exponential, ("epoch", "step")),
    "constant": SchedulerKind(constant, ("epoch", "step")),
    "onecycle": SchedulerKind(onecycle, ("step", "epoch"), warmup=False),
    "cyclic": SchedulerKind(cyclic, ("step", "epoch"), warmup=False),
    "plateau": SchedulerKind(plateau, ("epoch",), warmup=False),
}

scheduler_options = lookup_in("scheduler", {k: v.build for k, v in LR_SCHEDULES.items()},
                              supplied=("optimizer", "total", "steps_per_epoch"))


@dataclass
class LRSchedule:
    """A built schedule and how the trainer steps it."""

    scheduler: Schedule
    interval: str  # "epoch" or "step"
    metric: Optional[str] = None  # plateau: the metric it is stepped with

    def step_batch(self) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def step_epoch(self, metrics: dict[str, float]) -> None:
        if self.metric is not None:
            self.scheduler.step(metrics[self.metric])
        elif self.interval == "epoch":
            self.scheduler.step()


# Where torch's schedulers keep learning rates: per param group (OneCycleLR adds its peak, start
# and floor) and on the scheduler (every scheduler's bases, CyclicLR's peaks, the last LRs).
GROUP_LR_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")
SCHEDULER_LR_ATTRIBUTES = ("base_lrs", "max_lrs", "_last_lr")


def scale_learning_rate(optimizer: Optimizer, scheduler: Schedule, factor: float) -> None:
    """Multiply every learning rate the optimizer and its schedule hold by ``factor``.

    torch has no API to change a schedule's base LR mid-run; scaling each stored LR keeps the
    schedule where it is and its shape (and per-group ratios) intact. Absolute floors given as
    options (cosine ``min_lr``, plateau ``min_lr``) are left as the recipe set them.
    """
    for group in optimizer.param_groups:
        for key in GROUP_LR_KEYS:
            if key in group:
                group[key] *= factor
    for part in (scheduler, *getattr(scheduler, "_schedulers", ())):  # SequentialLR's warm-up and main
        for attribute in SCHEDULER_LR_ATTRIBUTES:
            values = getattr(part, attribute, None)
            if values is not None:
                setattr(part, attribute, [value * factor for value in values])


def build_schedule(name: str, optimizer: Optimizer, *, epochs: int, steps_per_epoch: int,
                   warmup_epochs: int = 0, interval: Optional[str] = None, **options: Any) -> LRSchedule:
    """``name``'s schedule over ``epochs``, after ``warmup_epochs`` of linear warm-up from 1% of the LR."""
    scheduler_options(name)  # raises with the valid names when unknown
    kind = LR_SCHEDULES[name]
    interval = interval or kind.intervals[0]
    per_epoch = steps_per_epoch if interval == "step" else 1
    warmup = warmup_epochs * per_epoch
    main = kind.build(optimizer, epochs * per_epoch - warmup, per_epoch, **options)
    metric = options.get("metric", TOP1) if name == "plateau" else None
    if warmup == 0:
        return LRSchedule(main, interval, metric)
    ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup)
    chained = torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
    return LRSchedule(chained, interval, metric)
