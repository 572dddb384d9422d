"""The shared trainer: a trial config in, per-epoch metrics out. Knows nothing of Ray or MLflow.

The same ``Trainer`` runs in a test, a notebook or a Ray trial; callers observe it through
callbacks that receive each epoch's metrics, and checkpoint it through ``state_dict``.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterable, Optional

import numpy as np
import torch
import torch.nn as nn

import models

from ..data import AUGMENTATIONS, DatasetTensors, InMemoryLoader, load_dataset
from ..spec import TrainSpec, TrialConfig
from .loop import evaluate, train_one_epoch
from .recipes import build_optimizer, build_scheduler

EpochCallback = Callable[[dict[str, float]], None]

# Every key of an epoch's metrics, in the order ``Trainer.run_epoch`` reports them.
EPOCH_METRICS = (
    "epoch", "train/loss", "train/top1", "val/loss", "val/top1", "val/top5", "val/best_top1",
    "val/best_epoch", "val/top5_at_best", "opt/lr", "time/epoch_seconds",
    "time/images_per_second", "time/train_seconds", "model/params",
)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(choice: str) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def resolve_amp(choice: str, device: torch.device) -> Optional[torch.dtype]:
    """Mixed precision only on CUDA: bf16 where the GPU has it, else fp16 (with a grad scaler)."""
    if device.type != "cuda" or choice == "off":
        return None
    if choice == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[choice]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Trainer:
    """Trains ``model`` with ``recipe`` one epoch at a time and tracks the best validation top-1."""

    def __init__(
        self,
        model: nn.Module,
        train_loader: InMemoryLoader,
        val_loader: InMemoryLoader,
        recipe: TrainSpec,
        *,
        device: torch.device,
        callbacks: Iterable[EpochCallback] = (),
    ) -> None:
        self.model = model.to(device)
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.recipe = recipe
        self.device = device
        self.callbacks = list(callbacks)
        self.autocast_dtype = resolve_amp(recipe.amp, device)
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast_dtype == torch.float16 else None
        self.criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self.eval_criterion = nn.CrossEntropyLoss()
        optimizer, scheduler = recipe.optimizer, recipe.scheduler
        self.optimizer = build_optimizer(
            optimizer.name, model.parameters(), lr=optimizer.lr,
            weight_decay=optimizer.weight_decay, **optimizer.options,
        )
        self.scheduler = build_scheduler(
            scheduler.name, self.optimizer, epochs=recipe.epochs,
            warmup_epochs=scheduler.warmup_epochs, **scheduler.options,
        )
        self.params = count_params(model)
        self.epoch = 0
        self.train_seconds = 0.0
        self.best = {"val/best_top1": float("-inf"), "val/best_epoch": 0.0, "val/top5_at_best": 0.0}
        self.last_metrics: dict[str, float] = {}

    @classmethod
    def from_config(
        cls,
        config: TrialConfig | dict[str, Any],
        *,
        seed: int,
        callbacks: Iterable[EpochCallback] = (),
        dataset: Optional[DatasetTensors] = None,
    ) -> Trainer:
        """Build data, model and recipe from a trial config; ``dataset`` skips loading it."""
        config = TrialConfig.model_validate(config)
        data, recipe = config.data, config.train
        device = resolve_device(recipe.device)
        if dataset is None:
            dataset = load_dataset(data.dataset, root=data.root, download=data.download, **data.options)
        if data.subset:
            dataset = dataset.subset(data.subset)
        seed_everything(seed)
        model = models.create_model(
            config.model.name, num_classes=dataset.num_classes, in_chans=dataset.input_size[0],
            **config.model.options,
        )
        mean, std = dataset.channel_stats()
        train_loader = InMemoryLoader(
            dataset.train_images, dataset.train_labels, batch_size=data.batch_size, mean=mean,
            std=std, device=device, shuffle=True, augment=AUGMENTATIONS[data.augment],
            drop_last=True, seed=seed,
        )
        val_loader = InMemoryLoader(
            dataset.val_images, dataset.val_labels, batch_size=data.eval_batch_size, mean=mean,
            std=std, device=device,
        )
        return cls(model, train_loader, val_loader, recipe, device=device, callbacks=callbacks)

    @property
    def done(self) -> bool:
        return self.epoch >= self.recipe.epochs

    def run_epoch(self) -> dict[str, float]:
        """Train one epoch, evaluate, step the schedule; returns (and calls back with) its metrics."""
        lr = self.optimizer.param_groups[0]["lr"]
        train = train_one_epoch(
            self.model, self.criterion, self.optimizer, self.train_loader, self.device,
            autocast_dtype=self.autocast_dtype, scaler=self.scaler, grad_clip=self.recipe.grad_clip,
        )
        val = evaluate(
            self.model, self.eval_criterion, self.val_loader, self.device,
            autocast_dtype=self.autocast_dtype,
        )
        self.scheduler.step()
        self.epoch += 1
        self.train_seconds += train["seconds"]
        if val["top1"] > self.best["val/best_top1"]:
            self.best = {"val/best_top1": val["top1"], "val/best_epoch": float(self.epoch),
                         "val/top5_at_best": val["top5"]}
        metrics = {
            "epoch": float(self.epoch),
            "train/loss": train["loss"],
            "train/top1": train["top1"],
            "val/loss": val["loss"],
            "val/top1": val["top1"],
            "val/top5": val["top5"],
            **self.best,
            "opt/lr": lr,
            "time/epoch_seconds": train["seconds"],
            "time/images_per_second": train["images"] / max(train["seconds"], 1e-9),
            "time/train_seconds": self.train_seconds,
            "model/params": float(self.params),
        }
        self.last_metrics = metrics
        for callback in self.callbacks:
            callback(metrics)
        return metrics

    def fit(self) -> list[dict[str, float]]:
        """Run the remaining epochs; returns every epoch's metrics."""
        history = []
        while not self.done:
            history.append(self.run_epoch())
        return history

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit on CPU: weights, recipe state, RNG, progress."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "train_loader": self.train_loader.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "epoch": self.epoch,
            "train_seconds": self.train_seconds,
            "best": dict(self.best),
            "last_metrics": dict(self.last_metrics),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.train_loader.load_state_dict(state["train_loader"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.epoch = state["epoch"]
        self.train_seconds = state["train_seconds"]
        self.best = dict(state["best"])
        self.last_metrics = dict(state["last_metrics"])
