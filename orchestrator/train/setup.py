"""From a trial config to what the trainer consumes: the model and the in-memory loaders.

Decides the input geometry once: a pretrained model gets its weights' input size and
normalisation (timm's ``pretrained_cfg``, else ImageNet's), a model trained from scratch the
dataset's own statistics; the validation loader applies the training augmentation's
deterministic counterpart (a centre crop where training crops at random).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn as nn

import models

from ..data import DatasetTensors, InMemoryLoader, build_augmentation, load_dataset, stratified_split
from ..data.augment import Op
from .recipe import DataSpec
from .config import TrialConfig


@dataclass
class TrainingData:
    train: InMemoryLoader
    val: InMemoryLoader
    test: Optional[InMemoryLoader]  # with data.val_split: the dataset's validation split, reported as test
    pretrain: Optional[InMemoryLoader]  # every training image, for reconstruction pre-training
    class_names: list[str]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_amp(choice: str, device: torch.device) -> Optional[torch.dtype]:
    """Mixed precision only on CUDA: bf16 where the GPU has it, else fp16 (with a grad scaler)."""
    if device.type != "cuda" or choice == "off":
        return None
    if choice == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[choice]


def resolve_channels_last(choice: str | bool, device: torch.device, autocast_dtype: Optional[torch.dtype]) -> bool:
    """``auto``: channels-last only on CUDA under autocast, where tensor-core convolutions want
    NHWC (bf16 alone trains no faster than fp32 without it); on a CPU it is slower."""
    if choice == "auto":
        return device.type == "cuda" and autocast_dtype is not None
    return bool(choice)


def uses_channels_last(config: TrialConfig, device: torch.device) -> bool:
    train = config.train
    return resolve_channels_last(train.channels_last, device, resolve_amp(train.amp, device))


def count_params(model: nn.Module, *, trainable: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def resolve_device(choice: str) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def select_data(data: DataSpec, dataset: Optional[DatasetTensors]) -> tuple[DatasetTensors, DatasetTensors]:
    """(all training images, the labelled part the classifier trains on)."""
    if dataset is None:
        dataset = load_dataset(data.dataset, root=data.root, download=data.download, **data.options)
    if data.subset:
        dataset = dataset.subset(data.subset)
    if data.val_split:
        dataset = dataset.hold_out(data.val_split, seed=data.split_seed)
    if data.label_fraction is None or data.label_fraction == 1:
        return dataset, dataset
    labelled, _ = stratified_split(dataset.train_labels, data.label_fraction, seed=data.split_seed)
    return dataset, dataset.select_train(labelled)


def input_geometry(config: TrialConfig, model: nn.Module,
                   dataset: DatasetTensors) -> tuple[Optional[int], list[float], list[float]]:
    """(resize target or None, mean, std) for this model and dataset."""
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    data = config.data
    pretrained = bool(config.model.options.get("pretrained"))
    weights = getattr(model, "pretrained_cfg", None) or {}
    image_size = data.resize_side(pretrained, weights)
    normalize = data.normalize if data.normalize != "auto" else ("imagenet" if pretrained else "dataset")
    if normalize == "imagenet":
        return image_size, list(weights.get("mean", IMAGENET_DEFAULT_MEAN)), list(weights.get("std", IMAGENET_DEFAULT_STD))
    mean, std = dataset.channel_stats()
    return image_size, mean, std


def build_loaders(config: TrialConfig, model: nn.Module, device: torch.device, seed: int,
                  everything: DatasetTensors, labelled: DatasetTensors) -> TrainingData:
    """Loaders for ``labelled`` (training), validation, test (with a held-out validation split)
    and ``everything`` when pre-training."""
    data = config.data
    image_size, mean, std = input_geometry(config, model, everything)
    augment: Op = build_augmentation(data.augment)
    common = dict(mean=mean, std=std, device=device, image_size=image_size,
                  channels_last=uses_channels_last(config, device))
    train = InMemoryLoader(labelled.train_images, labelled.train_labels, batch_size=data.batch_size,
                           shuffle=True, augment=augment, augment_mode=data.augment_mode,
                           drop_last=True, seed=seed, **common)
    evaluation = dict(batch_size=data.eval_batch_size, augment=augment, augment_mode="deterministic", **common)
    val = InMemoryLoader(everything.val_images, everything.val_labels, **evaluation)
    test = None
    if everything.test_images is not None:
        test = InMemoryLoader(everything.test_images, everything.test_labels, **evaluation)
    pretrain = None
    if config.train.pretrain is not None:
        pretrain = InMemoryLoader(everything.train_images, everything.train_labels, batch_size=data.batch_size,
                                  shuffle=True, augment=augment, augment_mode=data.augment_mode,
                                  drop_last=True, seed=seed + 1, **common)
    return TrainingData(train, val, test, pretrain, everything.class_names)


def build_model(config: TrialConfig, dataset: DatasetTensors, device: torch.device) -> nn.Module:
    model = models.create_model(config.model.name, num_classes=dataset.num_classes,
                                in_chans=dataset.input_size[0], **config.model.options)
    if uses_channels_last(config, device):
        model = model.to(memory_format=torch.channels_last)
    return model


def check_pretraining(model: nn.Module, loader: Optional[InMemoryLoader]) -> None:
    """Reconstruction pre-training needs every training image and a model that reconstructs."""
    if loader is None:
        raise ValueError("reconstruction pre-training needs a pretrain_loader")
    if not hasattr(model, "reconstruct"):
        raise ValueError(f"{type(model).__name__} has no reconstruct(); reconstruction "
                         "pre-training needs an autoencoder such as autoencoder_tin")
