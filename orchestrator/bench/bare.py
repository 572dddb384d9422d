"""The reference the trainer is measured against: a textbook PyTorch loop written out here, on the
same model, data, batch, augmentation, optimizer and precision as the trainer's workload.

It is what a researcher would write by hand (airbench's data path: the uint8 set on the device,
crops gathered in one indexing op, flips by ``torch.where``), so the ratio of the two prices the
trainer's own bookkeeping: metrics, schedules, callbacks, the loader's options.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

import models

from ..data import DatasetTensors
from ..train.setup import resolve_amp
from .workload import Setting, Timing, Workload, peak_mib, reset_peak, synchronize

PADDING = 4  # CIFAR's standard crop: pad 4 px (reflect), crop back to the input size


def crop_and_flip(images: torch.Tensor) -> torch.Tensor:
    """Random 4-px-padded crops and horizontal flips of a float batch, without a Python loop."""
    n, channels, height, width = images.shape
    device = images.device
    padded = F.pad(images, (PADDING,) * 4, mode="reflect")
    top = torch.randint(0, 2 * PADDING + 1, (n, 1, 1, 1), device=device)
    left = torch.randint(0, 2 * PADDING + 1, (n, 1, 1, 1), device=device)
    rows = top + torch.arange(height, device=device).view(1, 1, -1, 1)
    images = padded.gather(2, rows.expand(-1, channels, -1, width + 2 * PADDING))
    cols = left + torch.arange(width, device=device).view(1, 1, 1, -1)
    images = images.gather(3, cols.expand(-1, channels, height, -1))
    flip = torch.rand(n, 1, 1, 1, device=device) < 0.5
    return torch.where(flip, images.flip(3), images)


def _model(workload: Workload, setting: Setting, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """(the model, what runs forward): compiled when the setting compiles, as the trainer does."""
    torch.manual_seed(0)
    model = models.create_model(workload.model, num_classes=workload.num_classes).to(device)
    if setting.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, torch.compile(model) if setting.compile else model


def _epoch(images: torch.Tensor, labels: torch.Tensor, step: Callable[[torch.Tensor, torch.Tensor], None],
           *, batch_size: int, mean: torch.Tensor, std: torch.Tensor, channels_last: bool) -> None:
    order = torch.randperm(len(labels), device=images.device)
    for start in range(0, len(labels) - batch_size + 1, batch_size):
        index = order[start:start + batch_size]
        batch = (crop_and_flip(images[index].float().div_(255)) - mean) / std
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        step(batch, labels[index])


def time_bare_loop(workload: Workload, setting: Setting, device: torch.device,
                   dataset: Optional[DatasetTensors] = None) -> Timing:
    """Images/s of the textbook loop: one warm-up epoch, then ``workload.timed_epochs`` timed."""
    if workload.input_size is not None:
        raise ValueError("the bare loop trains at the stored size; it has no resize")
    reset_peak(device)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # as the trainer sets it
    dataset = dataset if dataset is not None else workload.dataset()
    images, labels = dataset.train_images.to(device), dataset.train_labels.to(device)
    mean, std = (torch.tensor(s, device=device).view(1, -1, 1, 1) for s in dataset.channel_stats())
    model, net = _model(workload, setting, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    dtype = resolve_amp(setting.amp, device)  # the trainer's rule, so both train at one precision
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None

    def step(batch: torch.Tensor, target: torch.Tensor) -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(net(batch), target)
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    model.train()
    run = dict(batch_size=workload.batch_size, mean=mean, std=std, channels_last=setting.channels_last)
    _epoch(images, labels, step, **run)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(workload.timed_epochs):
        _epoch(images, labels, step, **run)
    synchronize(device)
    return Timing(workload.timed_epochs * workload.train_images, time.perf_counter() - start, peak_mib(device))
