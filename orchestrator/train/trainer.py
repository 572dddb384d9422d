"""The shared trainer: a trial config in, per-epoch metrics out. Knows nothing of Ray or MLflow.

The same ``Trainer`` runs in a test, a notebook or a Ray trial; callers observe it through
callbacks that receive each epoch's metrics, checkpoint it through ``state_dict`` and, at the
end, take ``final_report()`` (per-class accuracy, confusion matrix, params, MACs) as data.
With ``train.pretrain`` the first epochs reconstruct images (every training image) before the
classification epochs (the labelled ones); ``total_epochs`` counts both.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterable, Optional

import numpy as np
import torch
import torch.nn as nn

from ..data import DatasetTensors, InMemoryLoader
from ..data.augment import Cutout
from ..profile import counted_macs
from ..tracking.names import BASE_LR, LR, WEIGHT_DECAY
from .config import TrialConfig
from .graphs import graphed_step
from .loop import (DeviceMemoryError, Predictions, StepOptions, evaluate, joined, predicted_classes,
                   reconstruction_epoch, train_one_epoch)
from .lr_schedules import LRSchedule, scale_learning_rate
from .metrics import BEST_TOP1, EPOCH_METRICS, TEST_AT_BEST, TEST_TOP1, TOP1
from .recipe import LrScheduleSpec, OptimizerSpec, TrainSpec, optimizer_for, schedule_for
from .recipes import build_criterion
from .regularize import EarlyStopping, build_ema, build_mixup
from .report import FinalReport, class_tables
from .setup import (build_loaders, build_model, check_pretraining, count_params, resolve_amp, resolve_device,
                    seed_everything, select_data)

EpochCallback = Callable[[dict[str, float]], None]
__all__ = ["EPOCH_METRICS", "EpochCallback", "Trainer"]


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
        pretrain_loader: Optional[InMemoryLoader] = None,
        class_names: Optional[list[str]] = None,
        test_loader: Optional[InMemoryLoader] = None,
    ) -> None:
        if device.type == "cuda":
            # In-memory batches have one shape per loader (drop_last), so cuDNN's autotuner pays
            # for itself after the first steps; bit-for-bit runs are a CPU promise anyway.
            torch.backends.cudnn.benchmark = True
        self.model = model.to(device)
        self.net = torch.compile(self.model) if recipe.compile else self.model  # what runs forward
        self.train_loader, self.val_loader, self.pretrain_loader = train_loader, val_loader, pretrain_loader
        self.test_loader = test_loader  # measured each epoch, never used to choose anything
        self.recipe, self.device, self.callbacks = recipe, device, list(callbacks)
        self.autocast_dtype = resolve_amp(recipe.amp, device)
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast_dtype == torch.float16 else None
        self.num_classes = len(class_names) if class_names else self._num_classes(model)
        self.class_names = class_names or [str(i) for i in range(self.num_classes)]
        self.mixup = build_mixup(recipe.mixup, num_classes=self.num_classes, label_smoothing=recipe.label_smoothing)
        self.criterion = build_criterion(recipe.label_smoothing, mixup=self.mixup is not None)
        self.eval_criterion = nn.CrossEntropyLoss()
        self.optimizer, self.schedule = self._recipe(recipe.optimizer, recipe.scheduler, recipe.epochs, train_loader)
        self.graphed, self.graphs_reason = graphed_step(recipe, self.net, self.criterion, self.optimizer, train_loader)
        self.pretrain_epochs = recipe.pretrain.epochs if recipe.pretrain else 0
        if recipe.pretrain is not None:
            check_pretraining(self.model, pretrain_loader)
            pre = recipe.pretrain
            self.pre_optimizer, self.pre_schedule = self._recipe(pre.optimizer, pre.scheduler, pre.epochs, pretrain_loader)
            self.mask = Cutout(pre.mask_holes, pre.mask_size) if pre.mask_holes else None
        self.ema = build_ema(recipe.ema, self.model)
        self.stopper = EarlyStopping(recipe.early_stopping) if recipe.early_stopping else None
        self.params = count_params(model)
        self.architecture: Optional[str] = None  # the model's build (name, options, classes), from a config
        self.epoch, self.global_step, self.train_seconds = 0, 0, 0.0
        self.best = {BEST_TOP1: float("-inf"), "val/best_epoch": 0.0, "val/top5_at_best": 0.0}
        self.last_metrics: dict[str, float] = {}
        # The last validation's predictions of the split the final report reads, while the weights
        # are the ones that made them: the report then needs no second pass over that split.
        self.report_predictions: Optional[Predictions] = None
        # The recipe's base values in effect; PBT moves them mid-run through ``retune``.
        self.hyperparameters = {"lr": recipe.optimizer.lr, "weight_decay": recipe.optimizer.weight_decay}

    def _num_classes(self, model: nn.Module) -> int:
        """Without class names: the classifier's outputs (timm's ``get_classifier``), else the labels'."""
        head = model.get_classifier() if hasattr(model, "get_classifier") else None
        known = getattr(head, "out_features", None)
        return known or int(torch.cat([self.train_loader.labels, self.val_loader.labels]).max()) + 1

    def _recipe(self, optimizer: OptimizerSpec, scheduler: LrScheduleSpec, epochs: int,
                loader: InMemoryLoader) -> tuple[torch.optim.Optimizer, LRSchedule]:
        built = optimizer_for(optimizer, self.model)
        return built, schedule_for(scheduler, built, epochs=epochs, steps_per_epoch=len(loader))

    @classmethod
    def from_config(cls, config: TrialConfig | dict[str, Any], *, seed: int, callbacks: Iterable[EpochCallback] = (),
                    dataset: Optional[DatasetTensors] = None) -> Trainer:
        """Build data, model and recipe from a trial config; ``dataset`` skips loading it.

        A :class:`TrialConfig` is taken as validated; a dict is validated here."""
        if not isinstance(config, TrialConfig):
            config = TrialConfig.model_validate(config)
        device = resolve_device(config.train.device)
        everything, labelled = select_data(config.data, dataset)
        seed_everything(seed)
        model = build_model(config, everything, device)
        data = build_loaders(config, model, device, seed, everything, labelled)
        trainer = cls(model, data.train, data.val, config.train, device=device, callbacks=callbacks,
                      pretrain_loader=data.pretrain, class_names=data.class_names, test_loader=data.test)
        trainer.architecture = f"{config.model.model_dump_json()} {trainer.num_classes} classes"
        return trainer

    @property
    def total_epochs(self) -> int:
        return self.pretrain_epochs + self.recipe.epochs

    @property
    def stopped_early(self) -> bool:
        return self.stopper is not None and self.stopper.stopped

    @property
    def done(self) -> bool:
        return self.epoch >= self.total_epochs or self.stopped_early

    def _after_step(self) -> None:
        """Per optimizer step: per-batch LR schedules and the weight average."""
        if self.epoch < self.pretrain_epochs:
            self.pre_schedule.step_batch()
            return
        self.schedule.step_batch()
        self.global_step += 1
        if self.ema is not None:
            self.ema.update(self.model, step=self.global_step)

    def _train_stage(self) -> tuple[dict[str, float], float]:
        """One epoch of the current stage: its metrics and the LR it started with."""
        options = StepOptions(self.autocast_dtype, self.scaler, self.recipe.grad_clip, self._after_step)
        if self.epoch < self.pretrain_epochs:
            lr = self.pre_optimizer.param_groups[-1]["lr"]
            stats = reconstruction_epoch(self.net, self.pre_optimizer, self.pretrain_loader, self.device, options,
                                         loss=self.recipe.pretrain.loss, mask=self.mask,
                                         generator=self.pretrain_loader.generator)
            return {"pretrain/loss": stats["loss"], "images": stats["images"], "seconds": stats["seconds"]}, lr
        lr = float(self.optimizer.param_groups[-1]["lr"])  # a device tensor under CUDA graphs
        stats = train_one_epoch(self.net, self.criterion, self.optimizer, self.train_loader, self.device,
                                options, mixup=self.mixup, step=self.graphed)
        train = {"train/loss": stats["loss"], "train/top1": stats["top1"], "train/top5": stats["top5"]}
        return {**train, "images": stats["images"], "seconds": stats["seconds"]}, lr

    def _validate(self) -> dict[str, float]:
        """The validation split's metrics (``val/``), the test split's too when one is held apart."""
        kept: list[Predictions] = []  # of the split the final report reads
        val = evaluate(self.net, self.eval_criterion, self.val_loader, self.device, autocast_dtype=self.autocast_dtype,
                       keep=None if self.test_loader is not None else kept)
        metrics = {f"val/{key}": value for key, value in val.items()}
        if self.test_loader is not None:
            test = evaluate(self.net, self.eval_criterion, self.test_loader, self.device,
                            autocast_dtype=self.autocast_dtype, keep=kept)
            metrics.update({f"test/{key}": value for key, value in test.items()})
        if self.ema is not None and self.epoch >= self.pretrain_epochs:
            ema = evaluate(self.ema.module, self.eval_criterion, self.val_loader, self.device,
                           autocast_dtype=self.autocast_dtype)
            metrics.update({f"val/ema_{key}": value for key, value in ema.items()})
        self.report_predictions = joined(kept) if kept else None
        return metrics

    def run_epoch(self) -> dict[str, float]:
        """Train one epoch, evaluate, step the schedule; returns (and calls back with) its metrics."""
        try:
            stage, lr = self._train_stage()
            val = self._validate()
        except torch.OutOfMemoryError as error:
            raise DeviceMemoryError.during(error, epoch=self.epoch + 1, model=type(self.model).__name__,
                                           batch_size=self.train_loader.batch_size,
                                           dtype=self.autocast_dtype) from error
        return self.record_epoch(stage, lr, val)

    def record_epoch(self, stage: dict[str, float], lr: float, val: dict[str, float]) -> dict[str, float]:
        """Book an epoch trained and validated here or fused (best, metrics, schedule, callbacks)."""
        pretraining = self.epoch < self.pretrain_epochs
        self.epoch += 1
        self.train_seconds += stage["seconds"]
        if val[TOP1] > self.best[BEST_TOP1]:
            self.best = {BEST_TOP1: val[TOP1], "val/best_epoch": float(self.epoch),
                         "val/top5_at_best": val["val/top5"],
                         **({TEST_AT_BEST: val[TEST_TOP1]} if TEST_TOP1 in val else {})}
        metrics = {
            "epoch": float(self.epoch), **{k: v for k, v in stage.items() if "/" in k}, **val, **self.best,
            LR: lr,
            BASE_LR: self.hyperparameters["lr"],
            WEIGHT_DECAY: self.hyperparameters["weight_decay"],
            "time/epoch_seconds": stage["seconds"],
            "time/images_per_second": stage["images"] / max(stage["seconds"], 1e-9),
            "time/train_seconds": self.train_seconds, "model/params": float(self.params),
        }
        metrics = {key: metrics[key] for key in EPOCH_METRICS if key in metrics}
        (self.pre_schedule if pretraining else self.schedule).step_epoch(metrics)
        if self.stopper is not None and not pretraining:
            self.stopper.update(metrics)
        self.last_metrics = metrics
        for callback in self.callbacks:
            callback(metrics)
        return metrics

    def retune(self, *, lr: float, weight_decay: float) -> None:
        """Move the recipe's base LR and weight decay mid-run (a PBT explore step).

        Both are rescaled by their ratio to the values in effect, so the schedule keeps its
        position and shape, each group keeps its ``lr_scale``, and no-decay groups stay at 0.
        """
        current = self.hyperparameters
        wanted = {"lr": lr, "weight_decay": weight_decay}
        changed = [key for key in wanted if wanted[key] != current[key]]
        if any(current[key] == 0 for key in changed):
            raise ValueError(f"cannot rescale {current} to {wanted}: a value at 0 has no ratio")
        if "lr" in changed:
            scale_learning_rate(self.optimizer, self.schedule.scheduler, lr / current["lr"])
        if "weight_decay" in changed:
            for group in self.optimizer.param_groups:
                group["weight_decay"] *= weight_decay / current["weight_decay"]
        self.hyperparameters = wanted

    def fit(self) -> list[dict[str, float]]:
        """Run the remaining epochs; returns every epoch's metrics."""
        history = []
        while not self.done:
            history.append(self.run_epoch())
        return history

    def final_report(self) -> FinalReport:
        """Per-class accuracy and confusion matrix of the current weights on the test split when
        one is held apart, else on the validation split: the last epoch's predictions of it, so
        no second pass (the split is evaluated deterministically)."""
        loader = self.test_loader or self.val_loader
        if self.report_predictions is None:  # restored from a checkpoint: these weights not evaluated here
            self.report_predictions = predicted_classes(self.net, loader, self.device,
                                                        autocast_dtype=self.autocast_dtype)
        per_class, confusion = class_tables(*self.report_predictions, self.class_names)
        images = next(iter(loader))[0]  # the input size after resizing and cropping
        macs = counted_macs(self.model, images.shape[-1], images.shape[1], architecture=self.architecture)
        return FinalReport(
            epoch=self.epoch, best_top1=self.best[BEST_TOP1], best_epoch=int(self.best["val/best_epoch"]),
            top5_at_best=self.best["val/top5_at_best"], per_class=per_class, confusion=confusion,
            params=self.params, trainable_params=count_params(self.model, trainable=True), macs=macs,
            stopped_early=self.stopped_early,
        )

    def _stateful(self) -> dict[str, Any]:
        """Every part with its own ``state_dict``, by checkpoint key (None when switched off)."""
        parts = {"model": self.model, "optimizer": self.optimizer, "scheduler": self.schedule.scheduler,
                 "scaler": self.scaler, "train_loader": self.train_loader, "ema": self.ema,
                 "stopper": self.stopper, "pretrain_loader": self.pretrain_loader}
        if self.pretrain_epochs:
            parts.update(pre_optimizer=self.pre_optimizer, pre_scheduler=self.pre_schedule.scheduler)
        return parts

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit on CPU: weights, recipe state, RNG, progress."""
        state = {key: part.state_dict() if part is not None else None for key, part in self._stateful().items()}
        state.update(
            torch_rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            numpy_rng=np.random.get_state(), python_rng=random.getstate(),  # timm's Mixup draws from numpy
            epoch=self.epoch, global_step=self.global_step, train_seconds=self.train_seconds,
            best=dict(self.best), last_metrics=dict(self.last_metrics),
            hyperparameters=dict(self.hyperparameters),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, part in self._stateful().items():
            if part is not None and state.get(key) is not None:
                part.load_state_dict(state[key])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        self.epoch, self.global_step = state["epoch"], state["global_step"]
        self.train_seconds, self.best = state["train_seconds"], dict(state["best"])
        self.last_metrics = dict(state["last_metrics"])
        self.report_predictions = None  # made by the weights this state replaces
        # Checkpoints written before PBT existed trained with the recipe's values.
        self.hyperparameters = dict(state.get("hyperparameters", self.hyperparameters))
