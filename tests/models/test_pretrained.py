"""Pretrained weights (without a network), ImageNet weight mapping, and backbone freezing."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
import timm
import torch

import models
from models.resnet import load_timm_resnet_state


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No network and an empty weight cache, whatever the machine has (and no slow retries)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setenv(models.WEIGHTS_ENV, str(tmp_path))  # and an empty store of imported weights


@pytest.mark.parametrize("name", ["resnet50", "ghostnet_100", "mlp_mixer_b16", "timm/resnet18"])
def test_pretrained_without_network_says_so(offline: None, name: str) -> None:
    with pytest.raises(models.PretrainedWeightsUnavailable, match="could not be downloaded: no network"):
        models.create_model(name, num_classes=10, pretrained=True)


def test_imagenet_weights_need_the_imagenet_stem() -> None:
    with pytest.raises(ValueError, match="stem='imagenet'"):
        models.create_model("resnet50", pretrained=True, stem="cifar")


@pytest.mark.parametrize("name, timm_name", [("resnet18", "resnet18"), ("resnet50", "resnet50")])
def test_timm_resnet_weights_load_into_ours(name: str, timm_name: str) -> None:
    torch.manual_seed(0)
    source = timm.create_model(timm_name, num_classes=0).eval()
    model = models.create_model(name, num_classes=10, stem="imagenet").eval()
    load_timm_resnet_state(model, source.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.forward_features(x), source.forward_features(x), atol=1e-5)


def trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_freeze_backbone_trains_only_the_classifier() -> None:
    model = models.create_model("resnet50", num_classes=10, stem="imagenet", freeze="backbone")
    assert trainable(model) == 20_490  # seed 002: Linear(2048, 10)
    assert all(p.requires_grad for p in model.get_classifier().parameters())


def test_freeze_backbone_keeps_an_attention_head_trainable() -> None:
    model = models.create_model("resnet50_attn", num_classes=10, freeze="backbone")
    assert trainable(model) == sum(p.numel() for p in [*model.neck.parameters(), *model.fc.parameters()])
    assert not any(p.requires_grad for p in model.layer4.parameters())


def test_freeze_backbone_on_a_timm_model() -> None:
    with torch.device("meta"):
        model = models.create_model("ghostnet_100", num_classes=100, freeze="backbone")
    assert trainable(model) == 1280 * 100 + 100


def test_unknown_freeze_is_refused() -> None:
    with pytest.raises(ValueError, match="freeze"):
        models.create_model("resnet18", freeze="everything")


@pytest.fixture
def fake_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """timm "downloads" randomly initialised weights: the successful path, without a network."""
    build = timm.create_model

    def create(name: str, pretrained: bool = False, **kwargs: object) -> torch.nn.Module:
        return build(name, **kwargs)

    monkeypatch.setattr(timm, "create_model", create)


@pytest.mark.parametrize("name", ["resnet50", "resnet50_attn", "ghostnet_100", "timm/resnet18"])
def test_pretrained_models_carry_imagenet_normalisation(fake_download: None, name: str) -> None:
    model = models.create_model(name, num_classes=10, pretrained=True)
    assert models.pretrained_normalization(model) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def test_models_trained_from_scratch_use_the_dataset_statistics() -> None:
    assert models.pretrained_normalization(models.create_model("resnet18", num_classes=10)) is None
