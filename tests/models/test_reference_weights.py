"""Reference implementations with their weights copied into ours must compute the same function.

timm's weights cannot be downloaded here; a randomly initialised timm model is as good a
reference: what is compared is the function, block by block, not the accuracy.
"""

from __future__ import annotations

import re

import pytest
import timm
import torch

import models
from models.resnet import _TIMM_KEYS

# timm's Res2Net names -> ours: the ResNet renaming, and the split convs live in the block's
# conv2, one Sequential each.
_RES2NET_KEYS = [
    *_TIMM_KEYS,
    (r"\.convs\.(\d+)\.", r".conv2.convs.\1.0."),
    (r"\.bns\.(\d+)\.", r".conv2.convs.\1.1."),
]


def renamed(state: dict[str, torch.Tensor], rules: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


@torch.no_grad()
def randomise_batchnorm(model: torch.nn.Module) -> None:
    """Random affine weights and running statistics: timm zero-initialises each block's last
    BatchNorm, which would make every residual branch output zero and hide any difference."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            size = module.num_features
            module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
            module.bias.copy_(torch.randn(size, generator=generator) * 0.1)
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)


@pytest.fixture(scope="module")
def res2net_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    reference = timm.create_model("res2net50_26w_4s", pretrained=False).eval()
    randomise_batchnorm(reference)
    ours = models.create_model("res2net", num_classes=1000, stem="imagenet").eval()
    ours.load_state_dict(renamed(reference.state_dict(), _RES2NET_KEYS), strict=True)
    return reference, ours


def test_res2net_matches_timm_res2net50_26w_4s(res2net_pair: tuple[torch.nn.Module, torch.nn.Module]) -> None:
    reference, ours = res2net_pair
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("stage", [1, 2, 3, 4])
def test_every_res2net_bottleneck_matches_timm(res2net_pair: tuple[torch.nn.Module, torch.nn.Module], stage: int) -> None:
    # Block by block, so a mismatch names the block (layer1.0, the stride-1 first block, once did).
    reference, ours = res2net_pair
    for index, (theirs, mine) in enumerate(zip(getattr(reference, f"layer{stage}"), getattr(ours, f"layer{stage}"))):
        x = torch.randn(1, theirs.conv1.in_channels, 8, 8)
        with torch.no_grad():
            assert torch.allclose(mine(x), theirs(x), atol=1e-5, rtol=1e-4), f"layer{stage}.{index} differs"


@pytest.mark.parametrize("name", ["hornet_tiny", "van_b0", "segnext_mscan_tiny"])
def test_layernorm_eps_is_the_reference_codes(name: str) -> None:
    # HorNet, VAN and SegNeXt's MSCAN all build their LayerNorms with eps=1e-6.
    with torch.device("meta"):
        model = models.create_model(name)
    eps = {module.eps for module in model.modules() if isinstance(module, torch.nn.LayerNorm)}
    assert eps == {1e-6}


def test_seed001_insertions_follow_one_rule() -> None:
    # "Conv1 -> CA -> Conv2" must be one function whichever model builds it: resnet_coord (a
    # BasicBlock with after_relu1) and resnet_mix (an explicit order) with the same weights.
    torch.manual_seed(0)
    coord = models.create_model("resnet_coord").eval()
    randomise_batchnorm(coord)
    mix = models.create_model("resnet_mix", order=["conv1", "coord", "conv2"]).eval()
    rules = [(r"^(layer\d\.\d)\.conv1\.", r"\1.steps.0.0."), (r"^(layer\d\.\d)\.attn\.", r"\1.steps.1."),
             (r"^(layer\d\.\d)\.conv2\.", r"\1.steps.2.")]
    mix.load_state_dict(renamed(coord.state_dict(), rules), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(coord(x), mix(x), atol=1e-5)
