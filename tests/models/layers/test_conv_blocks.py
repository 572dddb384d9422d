"""Conv blocks: each maps in -> out channels at a stride, and does what its paper defines."""

from __future__ import annotations

import pytest
import torch

from models.layers import create_conv, list_conv


def param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_registry_lists_every_block_of_the_issue() -> None:
    assert {"conv", "ghost", "sk", "res2"} <= set(list_conv())


def test_unknown_block_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="allowed: conv, ghost, res2, sk"):
        create_conv("gost", 8, 8)


@pytest.mark.parametrize("name", list_conv())
@pytest.mark.parametrize("stride", [1, 2])
def test_maps_channels_and_resolution(name: str, stride: int) -> None:
    block = create_conv(name, 32, 32, stride)
    assert block(torch.randn(2, 32, 8, 8)).shape == (2, 32, 8 // stride, 8 // stride)


@pytest.mark.parametrize("name", ["conv", "ghost", "sk"])
def test_changes_the_channel_count(name: str) -> None:
    assert create_conv(name, 32, 64, 2)(torch.randn(2, 32, 8, 8)).shape == (2, 64, 4, 4)


@pytest.mark.parametrize("ratio", [2, 4])
def test_ghost_primary_conv_makes_out_over_ratio_maps(ratio: int) -> None:
    block = create_conv("ghost", 32, 64, ratio=ratio)
    assert block.primary_conv[0].out_channels == 64 // ratio
    assert block.cheap_operation[0].groups == 64 // ratio  # the ghosts come from a depthwise conv


def test_ghost_ratio_2_halves_the_parameters() -> None:
    plain, ghost = param_count(create_conv("conv", 64, 64)), param_count(create_conv("ghost", 64, 64, ratio=2))
    assert 0.45 < ghost / plain < 0.56


def test_ghost_refuses_ratio_1() -> None:
    with pytest.raises(ValueError, match="ratio"):
        create_conv("ghost", 8, 8, ratio=1)


def test_sk_groups_its_branch_convs() -> None:
    block = create_conv("sk", 64, 64, groups=8)
    assert all(path.conv.groups == 8 for path in block.paths)
    with pytest.raises(ValueError, match="groups"):
        create_conv("sk", 36, 36, groups=32)


def split_dependencies(block: torch.nn.Module, channels: int, scale: int) -> list[set[int]]:
    """For each output split, the input splits its values depend on."""
    width = channels // scale
    deps = []
    for out_split in range(scale):
        x = torch.randn(1, channels, 6, 6, requires_grad=True)
        block(x)[:, out_split * width : (out_split + 1) * width].sum().backward()
        grads = x.grad.abs().sum((0, 2, 3)).view(scale, width).sum(1)
        deps.append({i for i in range(scale) if grads[i] > 0})
    return deps


def test_res2_splits_are_hierarchical() -> None:
    block = create_conv("res2", 32, 32, scale=4).eval()
    # y1 = K1(x1), y_i = K_i(x_i + y_{i-1}); the last split passes through unchanged.
    assert split_dependencies(block, 32, 4) == [{0}, {0, 1}, {0, 1, 2}, {3}]
    x = torch.randn(1, 32, 6, 6)
    assert torch.equal(block(x)[:, 24:], x[:, 24:])


@pytest.mark.parametrize("stride, first", [(2, False), (1, True)])
def test_res2_first_or_strided_splits_are_independent(stride: int, first: bool) -> None:
    # A stage's first block, strided or not, has no hierarchical add (the authors' is_first).
    block = create_conv("res2", 32, 32, stride, scale=4, first=first).eval()
    assert split_dependencies(block, 32, 4) == [{0}, {1}, {2}, {3}]


def test_res2_keeps_the_channel_count() -> None:
    with pytest.raises(ValueError, match="keeps the channel count"):
        create_conv("res2", 32, 64, scale=4)
