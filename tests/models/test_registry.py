from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import models
from models._registry import register_model
from models.layers import create_attn


def test_duplicate_name_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        @register_model
        def resnet20() -> nn.Module:  # noqa: F811  (the point of the test)
            return nn.Identity()


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(models.UnknownModelError, match="did you mean .*resnet20"):
        models.create_model("resnet2O")


def test_timm_passthrough_builds_a_timm_model() -> None:
    model = models.create_model("timm/resnet10t", num_classes=7)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("name", models.list_models())
def test_every_model_trains_at_32x32(name: str) -> None:
    torch.manual_seed(0)
    model = models.create_model(name, num_classes=100)
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([1, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


@pytest.mark.parametrize(("name", "params_m"), [("resnet20", 0.28), ("resnet32", 0.47), ("resnet56", 0.86)])
def test_cifar_resnet_param_counts_match_the_seed_tables(name: str, params_m: float) -> None:
    model = models.create_model(name, num_classes=100)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == params_m


@pytest.mark.parametrize("k_size", [3, 5, 7])
def test_eca_kernel_follows_k_size(k_size: int) -> None:
    block = create_attn("eca", 64, k_size=k_size)
    assert block.conv.kernel_size == (k_size,)
    x = torch.randn(2, 64, 8, 8)
    assert block(x).shape == x.shape


@pytest.mark.parametrize("position", ["after_conv1", "before_add", "after_add"])
def test_attention_position_changes_where_the_block_acts(position: str) -> None:
    model = models.create_model("resnet20", attention="se", attention_position=position)
    seen: list[torch.Size] = []
    model.layers[0].attn.register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    model(torch.randn(1, 3, 32, 32))
    assert seen == [torch.Size([1, 16, 32, 32])]


def test_unknown_attention_lists_choices() -> None:
    with pytest.raises(ValueError, match="allowed: eca, se"):
        create_attn("ecaa", 16)
