"""Optimizers and parameter groups by name, label smoothing, mixup/cutmix, EMA, early stopping."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import ValidationError

from orchestrator.train.recipe import EarlyStoppingSpec, EmaSpec, MixupSpec, OptimizerSpec
from orchestrator.train.recipes import build_criterion, build_optimizer
from orchestrator.train.regularize import EarlyStopping, build_ema, build_mixup


class TinyNet(nn.Module):
    """A conv, a norm and a linear head reached through timm's ``get_classifier()``."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, classes)

    def get_classifier(self) -> nn.Module:
        return self.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.norm(self.conv(x))).mean(dim=(2, 3)))


@pytest.mark.parametrize("name, options, kind, expected", [
    ("sgd", {"momentum": 0.8, "nesterov": True}, torch.optim.SGD, {"momentum": 0.8, "nesterov": True}),
    ("adam", {"betas": [0.8, 0.99]}, torch.optim.Adam, {"betas": (0.8, 0.99)}),
    ("adamw", {"eps": 1e-6}, torch.optim.AdamW, {"eps": 1e-6}),
    ("rmsprop", {"alpha": 0.9, "eps": 1.0}, torch.optim.RMSprop, {"alpha": 0.9, "eps": 1.0}),
])
def test_optimizers_by_name(name: str, options: dict, kind: type, expected: dict) -> None:
    optimizer = build_optimizer(name, TinyNet(), lr=0.05, weight_decay=2e-4, **options)
    assert isinstance(optimizer, kind)
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.05 and group["weight_decay"] == 2e-4
    assert {key: group[key] for key in expected} == expected


def test_unknown_optimizer_lists_the_choices() -> None:
    with pytest.raises(ValidationError, match="unknown optimizer 'lamb'; allowed: adam, adamw, rmsprop, sgd"):
        OptimizerSpec(name="lamb")


def test_no_decay_on_norm_weights_and_biases() -> None:
    model = TinyNet()
    optimizer = build_optimizer("sgd", model, lr=0.1, weight_decay=5e-4, no_decay_norm_bias=True)
    decay = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decay[id(model.conv.weight)] == decay[id(model.head.weight)] == 5e-4
    assert decay[id(model.conv.bias)] == decay[id(model.norm.weight)] == decay[id(model.head.bias)] == 0


def test_lower_backbone_learning_rate_and_frozen_backbone() -> None:
    model = TinyNet()
    optimizer = build_optimizer("sgd", model, lr=0.1, weight_decay=0, backbone_lr_scale=0.1)
    lrs = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert lrs[id(model.head.weight)] == 0.1 and lrs[id(model.conv.weight)] == pytest.approx(0.01)
    frozen = TinyNet()
    optimizer = build_optimizer("sgd", frozen, lr=0.1, weight_decay=0, backbone_lr_scale=0)
    trained = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert trained == {id(p) for p in frozen.head.parameters()}
    assert not frozen.conv.weight.requires_grad


def test_backbone_scale_needs_a_classifier_to_tell_the_head_apart() -> None:
    with pytest.raises(ValueError, match="get_classifier"):
        build_optimizer("sgd", nn.Linear(3, 2), lr=0.1, weight_decay=0, backbone_lr_scale=0.5)


def test_label_smoothing_matches_the_formula() -> None:
    logits, labels, eps = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0]), 0.1
    log_p = logits.log_softmax(dim=1)
    # (1 - eps) * cross-entropy + eps * mean over classes of -log p: targets (1 - eps) one-hot + eps / K
    expected = ((1 - eps) * -log_p.gather(1, labels[:, None]).squeeze(1) + eps * -log_p.mean(dim=1)).mean()
    assert build_criterion(eps, mixup=False)(logits, labels) == pytest.approx(expected.item(), rel=1e-6)


def test_mixup_mixes_images_and_labels_by_the_same_lambda() -> None:
    torch.manual_seed(0)
    mixup = build_mixup(MixupSpec(mixup_alpha=1.0, cutmix_alpha=0.0), num_classes=4, label_smoothing=0.0)
    images, labels = torch.rand(8, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    mixed, targets = mixup(images.clone(), labels)
    lam = targets[0, 0].item()  # image 0 (class 0) is mixed with the last image (class 3)
    expected = lam * F.one_hot(labels, 4) + (1 - lam) * F.one_hot(labels.flip(0), 4)
    assert torch.allclose(targets, expected.float(), atol=1e-6)
    assert torch.allclose(mixed, lam * images + (1 - lam) * images.flip(0), atol=1e-6)


def test_cutmix_label_weight_is_the_pasted_area() -> None:
    mixup = build_mixup(MixupSpec(mixup_alpha=0.0, cutmix_alpha=1.0), num_classes=2, label_smoothing=0.1)
    images = torch.cat([torch.zeros(4, 3, 16, 16), torch.ones(4, 3, 16, 16)])
    labels = torch.tensor([0] * 4 + [1] * 4)
    mixed, targets = mixup(images.clone(), labels)
    pasted = mixed[0].mean().item()  # image 0 (all zeros) receives a box from image 7 (all ones)
    off, on = 0.1 / 2, 1 - 0.1 + 0.1 / 2
    expected = (1 - pasted) * torch.tensor([on, off]) + pasted * torch.tensor([off, on])
    assert torch.allclose(targets[0], expected, atol=1e-6)


def test_odd_batch_with_mixup_is_refused_in_the_spec() -> None:
    from orchestrator.train.config import TrialConfig

    with pytest.raises(ValidationError, match="even batch size"):
        TrialConfig(data={"batch_size": 33}, train={"mixup": {}})
    with pytest.raises(ValidationError, match="set mixup_alpha or cutmix_alpha"):
        MixupSpec(mixup_alpha=0, cutmix_alpha=0)


def test_ema_is_the_exponential_average_of_the_weights() -> None:
    model = nn.Linear(2, 1, bias=False)
    ema = build_ema(EmaSpec(decay=0.9), model)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    assert torch.allclose(ema.module.weight, 0.9 * start + 0.1 * model.weight)


def test_early_stopping_counts_epochs_without_improvement() -> None:
    stopper = EarlyStopping(EarlyStoppingSpec(patience=2, metric="val/loss", min_delta=0.01))
    decisions = [stopper.update({"val/loss": loss}) for loss in (1.0, 0.8, 0.795, 0.9)]
    assert decisions == [False, False, False, True]
    state = stopper.state_dict()
    again = EarlyStopping(EarlyStoppingSpec(patience=2, metric="val/loss"))
    again.load_state_dict(state)
    assert again.stopped and again.best == -0.8
