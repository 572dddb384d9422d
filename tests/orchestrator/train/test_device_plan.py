"""Per-device defaults: ``train.channels_last: auto`` on CUDA with autocast, off on CPU; what the dry
run's recipe line says the trials will do."""

from __future__ import annotations

import pytest
import torch

from orchestrator.data import load_dataset
from orchestrator.errors import SpecError
from orchestrator.study import load_spec
from orchestrator.train.recipe import TrainSpec
from orchestrator.train import Trainer
from orchestrator.train.device_plan import device_line
from orchestrator.train.setup import resolve_channels_last

DATA = {"dataset": "synthetic", "batch_size": 32,
        "options": {"num_classes": 4, "train_size": 64, "val_size": 32, "image_size": 16}}


@pytest.mark.parametrize(("choice", "device", "autocast", "expected"), [
    ("auto", "cuda", torch.bfloat16, True),
    ("auto", "cuda", torch.float16, True),
    ("auto", "cuda", None, False),  # fp32 on CUDA: NHWC buys nothing without tensor-core dtypes
    ("auto", "cpu", None, False),
    ("auto", "cpu", torch.bfloat16, False),
    (True, "cpu", None, True),
    (False, "cuda", torch.bfloat16, False),
])
def test_channels_last_resolves_per_device(choice, device: str, autocast, expected: bool) -> None:
    assert resolve_channels_last(choice, torch.device(device), autocast) is expected


def test_channels_last_defaults_to_auto_and_stays_off_on_cpu() -> None:
    assert TrainSpec().channels_last == "auto"
    dataset = load_dataset("synthetic", **DATA["options"])
    trainer = Trainer.from_config({"data": DATA, "model": {"name": "resnet20"},
                                   "train": {"epochs": 1, "device": "cpu"}}, seed=0, dataset=dataset)
    conv = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert not conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert trainer.train_loader.channels_last is False and trainer.val_loader.channels_last is False


def test_the_trainers_setup_resolves_auto_with_the_trials_autocast() -> None:
    """What the trainer applies (its model and loaders), on CUDA: on under bf16 or fp16, off in
    fp32. Explicit amp values resolve without asking the GPU, so this runs on a CPU machine."""
    from orchestrator.train.config import TrialConfig
    from orchestrator.train.setup import uses_channels_last

    def on(amp: str, device: str) -> bool:
        config = TrialConfig.model_validate({"data": DATA, "model": {"name": "resnet20"}, "train": {"amp": amp}})
        return uses_channels_last(config, torch.device(device))

    assert on("bf16", "cuda") and on("fp16", "cuda")
    assert not on("off", "cuda") and not on("bf16", "cpu")


def test_a_bad_channels_last_is_one_line_naming_every_allowed_value(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntrain: {channels_last: maybe}\n")
    with pytest.raises(SpecError, match=r"^train.channels_last: allowed: auto, true or false \(got 'maybe'\)$"):
        load_spec(path)
    path.write_text("name: s\ntrain: {channels_last: yes}\n")  # YAML 1.1's switches stay switches
    assert load_spec(path).train.channels_last is True


@pytest.mark.gpu
def test_channels_last_auto_is_on_for_cuda_with_autocast() -> None:
    dataset = load_dataset("synthetic", **DATA["options"])
    trainer = Trainer.from_config({"data": DATA, "model": {"name": "resnet20"},
                                   "train": {"epochs": 1, "device": "cuda", "amp": "bf16"}}, seed=0, dataset=dataset)
    conv = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert next(iter(trainer.train_loader))[0].is_contiguous(memory_format=torch.channels_last)


CPU_GRAPHS = "cuda_graphs off: the trial trains on cpu (CUDA graphs need CUDA)"


@pytest.mark.parametrize(("train", "gpus", "expected"), [
    ({}, 0.25, "on cuda: amp auto, channels_last on (auto), cuda_graphs on (auto)"),
    ({"amp": "off"}, 1, "on cuda: amp off, channels_last off (auto), cuda_graphs on (auto)"),
    ({"amp": "fp16", "cuda_graphs": "off"}, 1, "on cuda: amp fp16, channels_last on (auto), cuda_graphs off: "
                                                "train.cuda_graphs: off"),
    ({"amp": "fp16"}, 1, "on cuda: amp fp16, channels_last on (auto), cuda_graphs off: fp16's grad scaler reads "
                         "the gradients' finiteness on the host every step (use amp: bf16)"),
    ({}, 0, f"on cpu: amp off, channels_last off (auto), {CPU_GRAPHS}"),
    ({"device": "cpu"}, 1, f"on cpu: amp off, channels_last off (auto), {CPU_GRAPHS}"),
    ({"channels_last": True}, 0, f"on cpu: amp off, channels_last on (set), {CPU_GRAPHS}"),
])
def test_dry_run_line_says_what_the_trials_will_do(train: dict, gpus: float, expected: str) -> None:
    assert device_line(TrainSpec(**train), gpus) == expected
