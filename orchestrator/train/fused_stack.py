"""K same-shape models as one: stacked weights run through ``torch.func.vmap``.

Each member keeps its own ``nn.Module`` (so its optimizer, schedule, EMA, checkpoint and final
report are the ordinary trainer's), but its parameters and buffers are views into tensors
stacked along a new first dimension. One forward of the stacked tensors through
``functional_call`` under ``vmap`` computes every member at once (a convolution with batched
weights becomes one grouped convolution, as HFTA fuses by hand); batch norm gets its running
statistics batched too, so each member updates its own in place, as the torch.func docs allow
for buffers passed with a batch dimension. An optimizer stepping a member's parameters writes
straight into the stack: nothing is copied back and forth per step.
"""

from __future__ import annotations

import copy
from typing import Optional, Sequence

import torch
import torch.nn as nn
from torch.func import functional_call, vmap


def _rebind(tensor: torch.Tensor, view: torch.Tensor) -> None:
    """Point ``tensor`` (a parameter or buffer, identity kept for its optimizer) at ``view``."""
    tensor.data = view


class FusedStack:
    """The stacked weights of ``models`` (same architecture) and one batched forward over them."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        if not models:
            raise ValueError("a fused stack needs at least one model")
        # A weightless copy only gives functional_call the module structure and train/eval mode.
        self.base = copy.deepcopy(models[0]).to("meta")
        self.param_names = [name for name, _ in models[0].named_parameters()]
        self.buffer_names = [name for name, _ in models[0].named_buffers()]
        self.members: list[nn.Module] = []
        self.params: dict[str, torch.Tensor] = {}
        self.buffers: dict[str, torch.Tensor] = {}
        self._leaves: dict[str, torch.Tensor] = {}  # what the last training forward differentiates
        self._stack(list(models))

    def _stack(self, models: list[nn.Module]) -> None:
        """Copy each weight of ``models`` into one stacked tensor and make each member's a view of it."""
        owned = [(dict(m.named_parameters()), dict(m.named_buffers())) for m in models]
        self.members = models
        if not models:  # every member finished or failed
            self.params, self.buffers = {}, {}
            return
        with torch.no_grad():
            self.params = {n: torch.stack([p[n].detach() for p, _ in owned]) for n in self.param_names}
            self.buffers = {n: torch.stack([b[n] for _, b in owned]) for n in self.buffer_names}
        for k, (params, buffers) in enumerate(owned):
            for name in self.param_names:
                _rebind(params[name], self.params[name][k])
            for name in self.buffer_names:
                _rebind(buffers[name], self.buffers[name][k])

    def __len__(self) -> int:
        return len(self.members)

    def keep(self, members: Sequence[nn.Module]) -> None:
        """Go on with ``members`` only (a subset, in order): the others get weights of their own
        again (their final state stays readable) and the stack shrinks to what still trains."""
        kept = {id(m) for m in members}
        with torch.no_grad():
            for model in self.members:
                if id(model) not in kept:
                    for tensor in (*model.parameters(), *model.buffers()):
                        _rebind(tensor, tensor.detach().clone())
        self._stack(list(members))

    def forward(self, images: torch.Tensor, *, train: bool, shared_input: bool = False) -> torch.Tensor:
        """Logits ``(K, B, classes)``; ``images`` is ``(K, B, ...)``, or ``(B, ...)`` seen by all
        members when ``shared_input`` (evaluation). In training the returned logits carry the
        graph to fresh leaves of the stacked parameters: :meth:`take_gradients` hands them out."""
        self.base.train(train)
        self._leaves = {n: t.detach().requires_grad_(train) for n, t in self.params.items()}
        call = vmap(self._call, in_dims=(0, 0, None if shared_input else 0), randomness="different")
        return call(self._leaves, self.buffers, images)

    def _call(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
              images: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, (params, buffers), (images,))

    def take_gradients(self) -> None:
        """After ``backward``: each member parameter's ``grad`` is its slice of the stacked gradient."""
        for k, model in enumerate(self.members):
            for name, param in model.named_parameters():
                grad: Optional[torch.Tensor] = self._leaves[name].grad
                # A frozen parameter (backbone_lr_scale 0) has no gradient when trained alone either.
                param.grad = None if grad is None or not param.requires_grad else grad[k]
