"""The trainer's GPU path: mixed precision, CUDA resume, batches cut on the device, channels_last,
compile, and out-of-memory. Tests marked ``gpu`` skip without CUDA (tests/conftest.py); run them
on a GPU machine with ``pytest -m gpu``."""

from __future__ import annotations

import io
import math
import traceback

import pytest
import torch
import torch.nn as nn

from orchestrator.data import InMemoryLoader, build_augmentation, load_dataset
from orchestrator.train import DeviceMemoryError, Trainer

DATA = {"dataset": "synthetic", "batch_size": 64, "eval_batch_size": 128,
        "options": {"num_classes": 10, "train_size": 512, "val_size": 128, "image_size": 32}}


def config(**train) -> dict:
    return {"data": {**DATA, "augment": "standard"}, "model": {"name": "resnet20"},
            "train": {"epochs": 3, "device": "cuda", "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                      "scheduler": {"name": "cosine"}, **train}}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic", **DATA["options"])


class OutOfMemoryOnForward(nn.Module):
    """Raises what the CUDA caching allocator raises when a step cannot get its memory."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total "
                                     "capacity of 79.19 GiB of which 1.06 GiB is free.")


def test_out_of_memory_in_a_step_is_the_reason_the_trial_layer_records(dataset) -> None:
    from orchestrator.run.callbacks import first_line  # imports Ray: here, not where `-m gpu` runs bare

    trainer = Trainer.from_config({**config(), "train": {**config()["train"], "device": "cpu"}}, seed=0,
                                  dataset=dataset)
    trainer.net = OutOfMemoryOnForward()
    with pytest.raises(DeviceMemoryError) as caught:
        trainer.run_epoch()
    assert isinstance(caught.value, torch.OutOfMemoryError)  # still what callers catch as OOM
    # The trial layer tags a FAILED run with the last line of the worker's traceback.
    reason = first_line("".join(traceback.format_exception(caught.value)))
    assert "out of memory in epoch 1 (CifarResNet, batch 64, fp32)" in reason
    assert "data.batch_size" in reason and "gpus_per_trial" in reason and "Tried to allocate 20.00 GiB" in reason


@pytest.mark.gpu
@pytest.mark.parametrize("amp, dtype, scaled", [("bf16", torch.bfloat16, False), ("fp16", torch.float16, True)])
def test_mixed_precision_epoch_trains(dataset, amp: str, dtype: torch.dtype, scaled: bool) -> None:
    trainer = Trainer.from_config(config(amp=amp, epochs=1), seed=0, dataset=dataset)
    assert trainer.autocast_dtype == dtype and (trainer.scaler is not None) == scaled
    metrics = trainer.run_epoch()
    assert math.isfinite(metrics["train/loss"]) and next(trainer.model.parameters()).dtype == torch.float32
    if scaled:
        assert trainer.scaler.get_scale() > 0


@pytest.mark.gpu
def test_amp_auto_is_bf16_where_the_gpu_has_it(dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)  # whatever an earlier test left
    trainer = Trainer.from_config(config(epochs=1), seed=0, dataset=dataset)
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert trainer.device.type == "cuda" and trainer.autocast_dtype == expected
    assert torch.backends.cudnn.benchmark  # set by this trainer: one batch shape per loader, autotuning pays


@pytest.mark.gpu
def test_cuda_resume_continues_within_float_tolerance(dataset, untimed) -> None:
    straight = untimed(Trainer.from_config(config(), seed=0, dataset=dataset).fit())
    interrupted = Trainer.from_config(config(), seed=0, dataset=dataset)
    interrupted.run_epoch()
    buffer = io.BytesIO()
    torch.save(interrupted.state_dict(), buffer)  # through bytes, as a trial's checkpoint goes
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert state["cuda_rng"] is not None
    resumed = Trainer.from_config(config(), seed=0, dataset=dataset)
    resumed.load_state_dict(state)
    history = untimed(resumed.fit())
    assert [m["epoch"] for m in history] == [m["epoch"] for m in straight[1:]]
    for got, expected in zip(history, straight[1:], strict=True):
        assert got["train/loss"] == pytest.approx(expected["train/loss"], rel=1e-3, abs=1e-4)
        assert got["val/top1"] == pytest.approx(expected["val/top1"], abs=1.0)  # one image of 128 may flip


@pytest.mark.gpu
@pytest.mark.parametrize("augment", ["standard", "randaugment"])
def test_batches_are_cut_and_augmented_on_the_device(dataset, augment: str) -> None:
    def first_batch(augmentation) -> tuple[torch.Tensor, torch.Tensor]:
        loader = InMemoryLoader(dataset.train_images, dataset.train_labels, batch_size=64, mean=[0.5] * 3,
                                std=[0.25] * 3, device="cuda", shuffle=True, augment=augmentation)
        assert loader.images.is_cuda and loader.generator.device.type == "cuda"
        return next(iter(loader))

    images, labels = first_batch(build_augmentation(augment))
    assert images.is_cuda and labels.is_cuda and images.shape == (64, 3, 32, 32)
    # The same seed draws the same order before any augmentation: the same images, unaugmented.
    plain, plain_labels = first_batch(None)
    assert torch.equal(labels, plain_labels)
    changed = (images != plain).flatten(1).any(dim=1)
    assert changed.float().mean() > 0.5, f"{augment}: {int(changed.sum())} of 64 images augmented"


@pytest.mark.gpu
def test_channels_last_model_and_batches(dataset) -> None:
    trainer = Trainer.from_config(config(epochs=1, channels_last=True), seed=0, dataset=dataset)
    conv = next(m for m in trainer.model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    images, _ = next(iter(trainer.train_loader))
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert math.isfinite(trainer.run_epoch()["train/loss"])


@pytest.mark.gpu
def test_compiled_model_trains_on_cuda_and_checkpoints_plain_weights(dataset) -> None:
    trainer = Trainer.from_config(config(epochs=1, compile=True), seed=0, dataset=dataset)
    assert trainer.net is not trainer.model
    assert math.isfinite(trainer.run_epoch()["train/loss"])
    assert not any(key.startswith("_orig_mod") for key in trainer.state_dict()["model"])


class AllocatesTooMuch(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        total = torch.cuda.get_device_properties(images.device).total_memory
        return torch.empty(2 * total, dtype=torch.uint8, device=images.device)  # refused at once


@pytest.mark.gpu
def test_cuda_out_of_memory_fails_the_trial_and_the_next_one_trains(dataset) -> None:
    doomed = Trainer.from_config(config(epochs=1), seed=0, dataset=dataset)
    doomed.net = AllocatesTooMuch()
    with pytest.raises(DeviceMemoryError, match="out of memory in epoch 1"):
        doomed.run_epoch()
    del doomed
    assert math.isfinite(Trainer.from_config(config(epochs=1), seed=0, dataset=dataset).run_epoch()["train/loss"])
