"""Registry behaviour: names, duplicates, close matches, timm passthrough, input sizes."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn as nn

import models
from models import _registry


def test_duplicate_name_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_model_entrypoints", dict(_registry._model_entrypoints))

    def resnet20(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
        return nn.Identity()

    with pytest.raises(ValueError, match="already registered"):
        models.register_model(resnet20)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(models.UnknownModelError, match="did you mean .*resnet50"):
        models.create_model("resnet05")
    with pytest.raises(KeyError, match="did you mean .*ghost_resnet20"):
        models.model_options("ghost_resnet2")


def test_timm_passthrough_builds_any_timm_model() -> None:
    with torch.device("meta"):
        model = models.create_model("timm/convnext_tiny", num_classes=100)
    assert sum(p.numel() for p in model.parameters()) == 27_897_028  # seed 003's 27.90M
    assert models.model_options("timm/convnext_tiny") is None  # timm validates its own kwargs


def test_list_models_filters_by_pattern() -> None:
    assert models.list_models("van_b*") == ["van_b0", "van_b1", "van_b2"]
    assert models.list_models() == sorted(models.list_models())


@pytest.mark.parametrize("name, size", [("resnet20", 32), ("densenet_tin", 64), ("autoencoder_tin", 64),
                                         ("coatnet_0", 224), ("mlp_mixer_b16", 224), ("timm/resnet50", 224)])
def test_default_input_size(name: str, size: int) -> None:
    assert models.default_input_size(name) == size


# Registry names that are also timm names, with the options that make ours timm's network: the
# timm-backed families are timm's models; our ResNets take a CIFAR stem unless told otherwise
# (pretrained weights select the ImageNet stem, which is timm's and torchvision's network).
SAME_AS_TIMM = {
    "cspresnet50": {}, "edgenext_base": {}, "edgenext_small": {}, "ghostnet_100": {}, "resnest50d": {},
    "resnet18": {"stem": "imagenet"}, "resnet34": {"stem": "imagenet"}, "resnet50": {"stem": "imagenet"},
}


def test_a_name_shared_with_timm_means_timms_architecture() -> None:
    assert sorted(set(models.list_models()) & set(timm.list_models())) == sorted(SAME_AS_TIMM)


@pytest.mark.parametrize("name", sorted(SAME_AS_TIMM))
def test_shared_names_have_timms_parameter_count(name: str) -> None:
    with torch.device("meta"):
        ours = models.create_model(name, num_classes=100, **SAME_AS_TIMM[name])
        theirs = timm.create_model(name, num_classes=100)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
