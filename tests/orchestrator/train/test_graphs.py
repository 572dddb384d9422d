"""Whole-step CUDA graphs (``train.cuda_graphs``): the ``auto`` reasons on CPU, ``on`` refused where
it cannot capture, and (on CUDA) captured steps equal to uncaptured ones, batch norm included."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Optional

import pytest
import torch

from orchestrator.data import load_dataset
from orchestrator.errors import SpecError
from orchestrator.train.recipe import TrainSpec
from orchestrator.study import load_spec
from orchestrator.train import Trainer
from orchestrator.train.graphs import GraphedStep, graph_state, resolve_cuda_graphs, shape_reason, spec_reason

DATA = {"dataset": "synthetic", "batch_size": 32, "eval_batch_size": 64,
        "options": {"num_classes": 4, "train_size": 256, "val_size": 64, "image_size": 16}}
CUDA = torch.device("cuda")


@pytest.mark.parametrize(("train", "device", "autocast", "reason"), [
    ({}, "cuda", torch.bfloat16, None),
    ({"optimizer": {"name": "adamw", "lr": 1e-3}}, "cuda", None, None),
    ({}, "cpu", None, "the trial trains on cpu (CUDA graphs need CUDA)"),
    ({"compile": True}, "cuda", torch.bfloat16, "train.compile is on"),
    ({}, "cuda", torch.float16, "fp16's grad scaler"),
    ({"optimizer": {"name": "rmsprop", "lr": 1e-3}}, "cuda", None, "optimizer rmsprop has no step"),
    ({"scheduler": {"name": "onecycle"}}, "cuda", None, "scheduler onecycle cycles the momentum"),
    ({"scheduler": {"name": "onecycle", "cycle_momentum": False}}, "cuda", None, None),
    # Applied outside the graph, so no reason: the weight average, mixup, clipping, pre-training.
    ({"ema": {}, "mixup": {}, "grad_clip": 1.0}, "cuda", torch.bfloat16, None),
])
def test_auto_reasons(train: dict, device: str, autocast, reason: Optional[str]) -> None:
    found = spec_reason(TrainSpec(**train), torch.device(device), autocast)
    assert found == reason if reason is None else found.startswith(reason)


@pytest.mark.parametrize(("images", "batch", "drop_last", "dynamic"), [
    (256, 32, True, False), (250, 32, True, False), (256, 32, False, False),
    (250, 32, False, True), (20, 32, False, False),  # one short batch: still one shape
])
def test_shape_reason_names_a_shorter_last_batch(images: int, batch: int, drop_last: bool, dynamic: bool) -> None:
    reason = shape_reason(images, batch, drop_last)
    assert (reason is not None) is dynamic
    if dynamic:
        assert "dynamic shapes" in reason and f"{images % batch} images" in reason


def test_the_trainers_choice_keeps_a_shorter_last_batch_out_of_a_graph() -> None:
    """A recipe that captures on CUDA, with a last training batch of another shape: the trainer's
    choice is no graph and that reason (the loader is all it reads of the batches)."""
    from orchestrator.train.graphs import graphed_step

    model = torch.nn.Linear(4, 2)
    loader = SimpleNamespace(device=CUDA, num_images=250, batch_size=32, drop_last=False)
    assert graphed_step(TrainSpec(amp="bf16"), model, torch.nn.CrossEntropyLoss(), torch.optim.SGD(
        model.parameters(), lr=0.1), loader) == (None, shape_reason(250, 32, False))  # type: ignore[arg-type]


def test_on_with_a_reason_is_refused_and_auto_falls_back() -> None:
    assert resolve_cuda_graphs("auto", None) and not resolve_cuda_graphs("auto", "a reason")
    assert not resolve_cuda_graphs("off", None)
    with pytest.raises(ValueError, match="train.cuda_graphs: on, but a reason"):
        resolve_cuda_graphs("on", "a reason")


def test_yaml_on_off_read_as_the_switch() -> None:
    assert TrainSpec(cuda_graphs=True).cuda_graphs == "on" and TrainSpec(cuda_graphs=False).cuda_graphs == "off"
    assert TrainSpec().cuda_graphs == "auto"


def test_trainer_on_cpu_trains_uncaptured_with_its_reason() -> None:
    dataset = load_dataset("synthetic", **DATA["options"])
    trainer = Trainer.from_config({"data": DATA, "model": {"name": "resnet20"},
                                   "train": {"epochs": 1, "device": "cpu"}}, seed=0, dataset=dataset)
    assert trainer.graphed is None and trainer.graphs_reason == "the trial trains on cpu (CUDA graphs need CUDA)"
    assert graph_state(trainer.graphed, trainer.graphs_reason) == "off: the trial trains on cpu (CUDA graphs need CUDA)"
    captured = SimpleNamespace(failed=None)  # what the run's tag says of a captured step, then of a failed one
    assert graph_state(captured, None) == "on"  # type: ignore[arg-type]
    captured.failed = "capture failed: operation not permitted when stream is capturing"
    assert graph_state(captured, None) == f"off: {captured.failed}"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="train.cuda_graphs: on, but the trial trains on cpu"):
        Trainer.from_config({"data": DATA, "model": {"name": "resnet20"},
                             "train": {"epochs": 1, "device": "cpu", "cuda_graphs": "on"}}, seed=0, dataset=dataset)


def test_spec_refuses_on_for_cpu_trials(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntrain: {cuda_graphs: on}\nresources: {gpus_per_trial: 0}\n")
    with pytest.raises(SpecError, match=r"^train.cuda_graphs: on, but the trial trains on cpu"):
        load_spec(path)
    path.write_text("name: s\ntrain: {cuda_graphs: on}\nresources: {gpus_per_trial: 0.5}\n")
    assert load_spec(path).train.cuda_graphs == "on"


def test_spec_refuses_on_for_a_row_whose_own_recipe_cannot_capture(tmp_path) -> None:
    """The base recipe captures, a variant's optimizer does not: refused before the sweep, not
    failed in its trials on the GPU."""
    from orchestrator.designs import get_design

    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntrain: {cuda_graphs: on}\nresources: {gpus_per_trial: 1}\n"
                    "search: {kind: variants, reference: base, variants: {base: {}, "
                    "rms: {train.optimizer: {name: rmsprop, lr: 0.01}}}}\n")
    spec = load_spec(path)
    with pytest.raises(SpecError, match=r"^search.variants.rms: train.cuda_graphs: on, but optimizer rmsprop"):
        get_design(spec.search.kind).expand(spec)


def _trained(graphs: str, dataset, **train) -> Trainer:
    config = {"data": {**DATA, "augment": "standard"}, "model": {"name": "resnet20"},
              "train": {"epochs": 2, "device": "cuda", "amp": "off", "cuda_graphs": graphs,
                        "scheduler": {"name": "cosine", "interval": "step"}, **train}}
    trainer = Trainer.from_config(config, seed=0, dataset=dataset)
    torch.backends.cudnn.benchmark = False
    trainer.fit()
    return trainer


@pytest.mark.gpu
@pytest.mark.parametrize("train", [
    {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}, "grad_clip": 5.0},
    {"optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05}},
])
def test_captured_steps_equal_uncaptured_ones_batch_norm_included(train: dict, monkeypatch) -> None:
    # Both sides pick the same convolution algorithms (the trainer turns the autotuner on).
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    dataset = load_dataset("synthetic", **DATA["options"])
    captured, eager = _trained("on", dataset, **train), _trained("off", dataset, **train)
    assert isinstance(captured.graphed, GraphedStep) and captured.graphed.replays == 2 * 8 - 3
    assert eager.graphed is None
    for (name, a), b in zip(captured.model.state_dict().items(), eager.model.state_dict().values()):
        if name.endswith("num_batches_tracked"):
            assert int(a) == int(b) == 16, name  # every replayed step counted its batch
        else:
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)
    assert captured.last_metrics["train/loss"] == pytest.approx(eager.last_metrics["train/loss"], rel=1e-3)
    assert captured.last_metrics["opt/lr"] == pytest.approx(eager.last_metrics["opt/lr"])


def test_learning_rates_live_in_tensors_that_schedules_fill() -> None:
    """What a captured step reads its LR from: one tensor per group, kept across schedule steps
    (torch's schedulers fill it) and across a float written over it (copied back in)."""
    from orchestrator.train.graphs import make_capturable, sync_lrs
    from orchestrator.train.lr_schedules import build_schedule

    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = build_schedule("cosine", optimizer, epochs=4, steps_per_epoch=1, warmup_epochs=1)
    reference = torch.optim.SGD(torch.nn.Linear(4, 2).parameters(), lr=0.1, momentum=0.9)
    expected = build_schedule("cosine", reference, epochs=4, steps_per_epoch=1, warmup_epochs=1)
    lrs = make_capturable(optimizer, torch.device("cpu"))
    assert optimizer.param_groups[0]["fused"] is True and optimizer.param_groups[0]["lr"] is lrs[0]
    for _ in range(3):
        model(torch.randn(8, 4)).sum().backward()
        optimizer.step()
        schedule.step_epoch({})
        reference.step()
        expected.step_epoch({})
        sync_lrs(optimizer, lrs)
        assert optimizer.param_groups[0]["lr"] is lrs[0]
        assert float(lrs[0]) == pytest.approx(reference.param_groups[0]["lr"])
    optimizer.param_groups[0]["lr"] = 0.0123  # a schedule that assigns a float
    sync_lrs(optimizer, lrs)
    assert optimizer.param_groups[0]["lr"] is lrs[0] and float(lrs[0]) == pytest.approx(0.0123)
