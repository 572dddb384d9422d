"""One bench workload, timed through the shared ``Trainer``: a zoo model on CIFAR-shaped synthetic
uint8 data held on the device (crop + flip, SGD), at one precision setting.

Every section of ``orchestrate bench gpu`` measures through here, so the bare loop, the packed
processes and the seed-003 projection all train exactly what a trial would train.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import torch

from ..data import DatasetTensors, load_dataset
from ..train import Trainer

MIB = 2**20


@dataclass(frozen=True)
class Setting:
    """A precision setting: ``amp`` as the spec's ``train.amp`` (``auto``: bf16 on CUDA where the GPU
    has it, else fp16 with a grad scaler; CPU always trains in fp32)."""

    name: str
    amp: str = "auto"
    channels_last: bool = False
    compile: bool = False
    cuda_graphs: str = "off"  # the bare loop has none: "on" measures what they add over it


SETTINGS = (
    Setting("fp32", amp="off"),
    Setting("amp"),
    Setting("amp+channels_last", channels_last=True),
    Setting("amp+compile", compile=True),
    Setting("amp+channels_last+graphs", channels_last=True, cuda_graphs="on"),
)


@dataclass(frozen=True)
class Workload:
    """What one timed trainer trains; an epoch is ``steps`` full batches."""

    model: str = "resnet20"
    batch_size: int = 512
    steps: int = 40
    timed_epochs: int = 2  # after one untimed warm-up epoch (allocator, cuDNN autotuner, compile)
    stored_size: int = 32  # the images as held: CIFAR's 32 px
    input_size: Optional[int] = None  # resized on the device to this first (a 224-px fine-tune)
    num_classes: int = 100
    model_options: tuple[tuple[str, Any], ...] = ()  # a study row's model options
    train: tuple[tuple[str, Any], ...] = ()  # a study row's train keys, over the setting's

    @property
    def train_images(self) -> int:
        return self.batch_size * self.steps

    def scaled(self, **changes: Any) -> Workload:
        return replace(self, **changes)

    def dataset(self) -> DatasetTensors:
        """The synthetic images; validation is one batch, so its epochs cost little."""
        return load_dataset("synthetic", num_classes=self.num_classes, train_size=self.train_images,
                            val_size=self.batch_size, image_size=self.stored_size)

    def config(self, setting: Setting, device: torch.device) -> dict[str, Any]:
        """The trial config a sweep would hand the trainer for this workload."""
        data = {"dataset": "synthetic", "batch_size": self.batch_size, "eval_batch_size": self.batch_size,
                "augment": "standard", "image_size": self.input_size,
                "options": {"num_classes": self.num_classes, "train_size": self.train_images,
                            "val_size": self.batch_size, "image_size": self.stored_size}}
        train = {"epochs": 1 + self.timed_epochs, "device": device.type, "amp": setting.amp,
                 "channels_last": setting.channels_last, "compile": setting.compile,
                 "cuda_graphs": setting.cuda_graphs,
                 "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
                 "scheduler": {"name": "cosine"}, **_thawed(self.train)}
        train["scheduler"] = _within(train["scheduler"])
        return {"data": data, "model": {"name": self.model, **_thawed(self.model_options)}, "train": train}


# A row's train keys that change what a step costs: the schedule too (stepped per batch or per
# epoch; onecycle's momentum cycle keeps a step out of a CUDA graph).
TRAIN_KEYS = ("amp", "channels_last", "compile", "cuda_graphs", "optimizer", "scheduler")
NOT_TIMED = ("pretrained",)  # weights change no step's cost, and a bare GPU machine cannot fetch them


def frozen(value: Any) -> Any:
    """Mappings as sorted (key, value) pairs, so a workload stays hashable."""
    if isinstance(value, dict):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    return value


def timed_model_options(model: dict[str, Any]) -> dict[str, Any]:
    """A trial config's model options that change what a step costs (not its name or weights)."""
    return {k: v for k, v in model.items() if k != "name" and k not in NOT_TIMED and v is not None}


def _within(scheduler: dict[str, Any]) -> dict[str, Any]:
    """The row's schedule with at most one warm-up epoch: its kind and interval are what a step
    pays for, and a warm-up as long as the row's (5 epochs) would not fit the few timed ones."""
    if scheduler.get("warmup_epochs"):
        return {**scheduler, "warmup_epochs": 1}
    return scheduler


def _thawed(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """(key, value) pairs back into a mapping, nested pairs included (a row's optimizer)."""
    return {key: _thawed(value) if isinstance(value, tuple) and value and isinstance(value[0], tuple) else value
            for key, value in pairs}


@dataclass(frozen=True)
class Timing:
    """Images trained in the timed epochs, their seconds, and the process's peak device memory."""

    images: int
    seconds: float
    peak_mib: Optional[float] = None  # None off CUDA

    @property
    def images_per_second(self) -> float:
        return self.images / max(self.seconds, 1e-9)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> Optional[float]:
    """What this process held of the device at its peak: its caching allocator's reserve, which
    no other process can use while it runs (K packed trials add up their reserves), not the part
    of it tensors filled."""
    return torch.cuda.max_memory_reserved(device) / MIB if device.type == "cuda" else None


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_trainer(workload: Workload, setting: Setting, device: torch.device,
                  dataset: Optional[DatasetTensors] = None) -> Trainer:
    """The shared trainer for ``workload``, warmed up by one untimed epoch."""
    trainer = Trainer.from_config(workload.config(setting, device), seed=0,
                                  dataset=dataset if dataset is not None else workload.dataset())
    trainer.run_epoch()
    return trainer


def timed_epochs(trainer: Trainer, workload: Workload, device: torch.device) -> Timing:
    """The trainer's own clock over its training steps (each epoch ends on a device sync)."""
    seconds = sum(trainer.run_epoch()["time/epoch_seconds"] for _ in range(workload.timed_epochs))
    return Timing(workload.timed_epochs * workload.train_images, seconds, peak_mib(device))


def time_trainer(workload: Workload, setting: Setting, device: torch.device,
                 dataset: Optional[DatasetTensors] = None) -> Timing:
    """Images/s of the shared ``Trainer`` on ``workload``; peak memory covers warm-up and timing."""
    reset_peak(device)
    trainer = build_trainer(workload, setting, device, dataset)
    return timed_epochs(trainer, workload, device)
