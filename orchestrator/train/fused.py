"""Fused trials: K trial configs that differ in no tensor shape train in one process as one model.

Each member is an ordinary :class:`Trainer` (built by ``Trainer.from_config`` with its own seed,
so its initial weights, data order, optimizer, LR schedule, early stopping, EMA and callbacks are
exactly a lone trial's); only its weights live in a :class:`FusedStack` and its epochs run
through the fused loop. A member whose loss becomes NaN is recorded in ``failures`` and leaves
the stack; so does a member that has finished its epochs or stopped early. The others go on.

What does not match a lone run: dropout and drop-path draw from one generator for the stacked
batch (each member still gets its own draws), and float sums are ordered differently (a grouped
convolution), so metrics agree within float tolerance, not bit for bit.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch

from .config import TrialConfig
from ..data import DatasetTensors, load_dataset
from .fusable import fusable
from .fused_loop import NumpyState, evaluate_fused, train_fused_epoch
from .fused_stack import FusedStack
from .loop import DeviceMemoryError, Predictions, evaluate, joined
from .trainer import EpochCallback, Trainer

FAILED_BEFORE = "failed before the checkpoint this run resumed from"
# A member's CUDA graph state: the fused step runs every member at once, eagerly.
FUSED_GRAPHS = "off: fused members train in one vmapped step, which is not captured"


class FusedTrainer:
    """Trains ``members`` (same architecture, input, batch and precision) one fused epoch at a time."""

    def __init__(self, members: Sequence[Trainer], *, numpy_states: Optional[Sequence[NumpyState]] = None) -> None:
        self.members = list(members)
        # Each member's numpy RNG where its own construction left it (timm's Mixup draws from it).
        self.numpy_states = list(numpy_states) if numpy_states is not None else [np.random.get_state()] * len(members)
        self.failures: dict[int, str] = {}  # member index -> why it FAILED
        self.stack = FusedStack([member.model for member in self.members])
        self.active = list(range(len(self.members)))
        self._drop_finished()

    @classmethod
    def from_configs(
        cls,
        configs: Sequence[TrialConfig | dict[str, Any]],
        *,
        seeds: Sequence[int],
        callbacks: Optional[Sequence[Iterable[EpochCallback]]] = None,
        dataset: Optional[DatasetTensors] = None,
    ) -> FusedTrainer:
        """One member per (config, seed), each built exactly as ``Trainer.from_config`` builds a
        lone trial; the dataset is loaded once for all. Raises ValueError when they cannot fuse."""
        configs = [c if isinstance(c, TrialConfig) else TrialConfig.model_validate(c) for c in configs]
        if len(seeds) != len(configs):
            raise ValueError(f"{len(configs)} configs but {len(seeds)} seeds")
        ok, reason = fusable(configs)
        if not ok:
            raise ValueError(f"these trials cannot train fused: {reason}")
        if dataset is None:
            data = configs[0].data
            dataset = load_dataset(data.dataset, root=data.root, download=data.download, **data.options)
        members, states = [], []
        for k, (config, seed) in enumerate(zip(configs, seeds)):
            member_callbacks = callbacks[k] if callbacks is not None else ()
            members.append(Trainer.from_config(config, seed=seed, callbacks=member_callbacks, dataset=dataset))
            states.append(np.random.get_state())
        return cls(members, numpy_states=states)

    @property
    def done(self) -> bool:
        return not self.active

    def _drop_finished(self) -> None:
        """Members that failed, finished or stopped early leave the stack (keeping their weights)."""
        still = [k for k in self.active if k not in self.failures and not self.members[k].done]
        if still != self.active:
            self.active = still
            self.stack.keep([self.members[k].model for k in still])

    def _validate(self, live: list[Trainer]) -> list[dict[str, float]]:
        """Each live member's ``val/`` (and ``test/``, ``val/ema_``) metrics, as ``Trainer._validate``."""
        first = live[0]
        kept: list[list[Predictions]] = [[] for _ in live]
        splits = [("val", first.val_loader)] + ([("test", first.test_loader)] if first.test_loader else [])
        metrics: list[dict[str, float]] = [{} for _ in live]
        for prefix, loader in splits:
            reported = prefix == "test" or first.test_loader is None  # the split final_report reads
            found = evaluate_fused(self.stack, first.eval_criterion, loader, first.device,
                                   autocast_dtype=first.autocast_dtype, keep=kept if reported else None)
            for member_metrics, values in zip(metrics, found):
                member_metrics.update({f"{prefix}/{key}": value for key, value in values.items()})
        for member, member_metrics, predictions in zip(live, metrics, kept):
            if member.ema is not None and member.epoch >= member.pretrain_epochs:
                ema = evaluate(member.ema.module, member.eval_criterion, member.val_loader, member.device,
                               autocast_dtype=member.autocast_dtype)
                member_metrics.update({f"val/ema_{key}": value for key, value in ema.items()})
            member.report_predictions = joined(predictions)
        return metrics

    def run_epoch(self) -> dict[int, dict[str, float]]:
        """One fused epoch: each live member's metrics by member index (its callbacks called);
        a member whose loss diverged is recorded in ``failures`` instead."""
        live = [self.members[k] for k in self.active]
        lrs = [member.optimizer.param_groups[-1]["lr"] for member in live]
        numpy_states = [self.numpy_states[k] for k in self.active]  # moved on by the epoch's mixing
        try:
            stages = train_fused_epoch(self.stack, live, numpy_states)
            vals = self._validate(live)
        except torch.OutOfMemoryError as error:
            first = live[0]
            raise DeviceMemoryError.during(error, epoch=first.epoch + 1,
                                           model=f"{len(live)} fused {type(first.model).__name__}",
                                           batch_size=first.train_loader.batch_size,
                                           dtype=first.autocast_dtype) from error
        results: dict[int, dict[str, float]] = {}
        for k, member, stage, lr, val, state in zip(self.active, live, stages, lrs, vals, numpy_states):
            self.numpy_states[k] = state
            if isinstance(stage, Exception):
                self.failures[k] = str(stage)
            else:
                results[k] = member.record_epoch(stage, lr, val)
        self._drop_finished()
        return results

    def fit(self) -> dict[int, list[dict[str, float]]]:
        """Run until every member has finished, stopped or failed; each member's epoch metrics."""
        history: dict[int, list[dict[str, float]]] = {k: [] for k in range(len(self.members))}
        while not self.done:
            for k, metrics in self.run_epoch().items():
                history[k].append(metrics)
        return history

    def state_dict(self, index: int) -> dict[str, Any]:
        """Member ``index``'s checkpoint, the same keys as a lone ``Trainer``'s. Its weights are
        copied out of the stack (saving a view would save every member's storage)."""
        state = self.members[index].state_dict()
        state["model"] = {key: value.clone() for key, value in state["model"].items()}
        state["numpy_rng"] = self.numpy_states[index]
        return state

    def load_state_dicts(self, states: Sequence[Optional[dict[str, Any]]]) -> None:
        """Restore every member (None: a member that had already failed, which stays out) and go
        on with those that have epochs left."""
        for k, state in enumerate(states):
            if state is None:
                self.failures[k] = FAILED_BEFORE
                continue
            self.members[k].load_state_dict(state)  # copies into the stack's views in place
            self.numpy_states[k] = state["numpy_rng"]
        self._drop_finished()
