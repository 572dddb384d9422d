"""Every registered model: builds on the meta device, trains one step on CPU, states its counts."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

import models

TINY_IMAGENET_CLASSES = 200
# Models whose training step takes 3 s or more on one CPU core; CI deselects them.
SLOW = {"coatnet_0", "mlp_mixer_b16", "resnext29_16x64d", "vit"}


def num_classes_for(name: str) -> int:
    return TINY_IMAGENET_CLASSES if models.default_input_size(name) == 64 else 100


def zoo_params() -> list:
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in models.list_models()]


@pytest.mark.parametrize("name", models.list_models())
def test_entry_point_takes_dataset_options_and_explicit_keywords(name: str) -> None:
    options = models.model_options(name)
    assert options is not None, f"{name} takes **kwargs, so its options cannot be validated"
    assert {"num_classes", "in_chans"} <= set(options)
    assert all(p.kind is not inspect.Parameter.VAR_POSITIONAL for p in options.values())


@pytest.mark.parametrize("name", models.list_models())
def test_builds_on_meta_device(name: str) -> None:
    # The spec validates options by building on the meta device; no model may need real memory.
    with torch.device("meta"):
        model = models.create_model(name, num_classes=num_classes_for(name), in_chans=3)
    assert all(p.is_meta for p in model.parameters())


@pytest.mark.parametrize("name", zoo_params())
def test_trains_one_step(name: str) -> None:
    torch.manual_seed(0)
    classes, size = num_classes_for(name), models.default_input_size(name)
    model = models.create_model(name, num_classes=classes, in_chans=3)
    images, labels = torch.randn(2, 3, size, size), torch.tensor([0, classes - 1])
    logits = model(images)
    assert logits.shape == (2, classes)
    loss = F.cross_entropy(logits, labels)
    if hasattr(model, "reconstruct"):  # the autoencoder's decoder trains on reconstruction
        loss = loss + F.mse_loss(model.reconstruct(images), images)
    loss.backward()
    assert torch.isfinite(loss)
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without a gradient: {no_grad[:5]}"
    assert model.get_classifier() is not None
