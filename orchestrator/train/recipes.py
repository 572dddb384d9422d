"""Optimizers and their parameter groups by name, as torchvision's references build them.

Each builder takes the spec's options as keywords; ``optimizer_options`` exposes the signatures
so a spec with a wrong option is refused before any trial starts. Parameter groups come from
timm's ``param_groups_weight_decay`` (no decay on norm weights and biases, as an option) and are
split into backbone and head, the head being what the model's ``get_classifier()`` returns
(timm's convention), so transfer learning can freeze the backbone or give it a lower LR.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch
import torch.nn as nn
from torch.optim import Optimizer

from ..options import lookup_in


def sgd(params: Iterable, *, lr: float, weight_decay: float, momentum: float = 0.9,
        nesterov: bool = False, dampening: float = 0.0) -> Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, dampening=dampening,
                           weight_decay=weight_decay)


def adam(params: Iterable, *, lr: float, weight_decay: float, betas: Sequence[float] = (0.9, 0.999),
         eps: float = 1e-8, amsgrad: bool = False) -> Optimizer:
    """Adam with L2 weight decay added to the gradient (PyTorch's ``Adam``; AdamW decouples it)."""
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


def adamw(params: Iterable, *, lr: float, weight_decay: float,
          betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8) -> Optimizer:
    return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


def rmsprop(params: Iterable, *, lr: float, weight_decay: float, alpha: float = 0.99, eps: float = 1e-8,
            momentum: float = 0.0, centered: bool = False) -> Optimizer:
    """PyTorch's RMSprop (eps outside the square root; seed 004's Inception-ResNet uses eps=1.0)."""
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered,
                               weight_decay=weight_decay)


OPTIMIZERS = {"sgd": sgd, "adam": adam, "adamw": adamw, "rmsprop": rmsprop}

optimizer_options = lookup_in("optimizer", OPTIMIZERS, supplied=("params", "lr", "weight_decay"))


def head_parameters(model: nn.Module) -> set[int]:
    """Ids of the classifier's parameters, found through timm's ``get_classifier()``."""
    if not hasattr(model, "get_classifier"):
        raise ValueError(f"{type(model).__name__} has no get_classifier(), so its backbone and head "
                         "cannot be told apart; use backbone_lr_scale: 1")
    return {id(p) for p in model.get_classifier().parameters()}


def param_groups(model: nn.Module, *, lr: float, weight_decay: float, no_decay_norm_bias: bool = False,
                 backbone_lr_scale: float = 1.0) -> list[dict[str, Any]]:
    """Groups with their own ``lr`` and ``weight_decay``; ``lr_scale`` records each group's share.

    ``backbone_lr_scale`` 0 freezes the backbone (``requires_grad`` off, left out of the groups).
    """
    from timm.optim import param_groups_weight_decay

    head = head_parameters(model) if backbone_lr_scale != 1 else set()
    if backbone_lr_scale == 0:
        for param in model.parameters():
            if id(param) not in head:
                param.requires_grad_(False)
    groups = []
    for group in param_groups_weight_decay(model, weight_decay, weight_decay_exclude_1d=no_decay_norm_bias):
        for is_head in (False, True):
            params = [p for p in group["params"] if (id(p) in head) == is_head]
            scale = 1.0 if is_head or not head else backbone_lr_scale
            if params:
                groups.append({"params": params, "weight_decay": group["weight_decay"],
                               "lr": lr * scale, "lr_scale": scale})
    return groups


def build_optimizer(name: str, model: nn.Module, *, lr: float, weight_decay: float,
                    no_decay_norm_bias: bool = False, backbone_lr_scale: float = 1.0,
                    **options: Any) -> Optimizer:
    optimizer_options(name)  # raises with the valid names when unknown
    groups = param_groups(model, lr=lr, weight_decay=weight_decay, no_decay_norm_bias=no_decay_norm_bias,
                          backbone_lr_scale=backbone_lr_scale)
    return OPTIMIZERS[name](groups, lr=lr, weight_decay=weight_decay, **options)


def build_criterion(label_smoothing: float, *, mixup: bool) -> nn.Module:
    """Cross-entropy with label smoothing; with mixup the targets arrive as (smoothed) soft labels."""
    if mixup:
        from timm.loss import SoftTargetCrossEntropy

        return SoftTargetCrossEntropy()
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
