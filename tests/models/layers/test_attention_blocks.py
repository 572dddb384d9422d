"""Attention blocks: every one keeps the input shape, and each does what its paper defines."""

from __future__ import annotations

import math

import pytest
import torch

from models.layers import create_attn, list_attn


def gate_of(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """out / x: what the block multiplied each element by."""
    with torch.no_grad():
        return block(x) / x


def receptive_radius(block: torch.nn.Module, channels: int, size: int = 33) -> int:
    """Chebyshev radius of the input pixels that reach the centre output pixel of channel 0."""
    x = torch.randn(1, channels, size, size, requires_grad=True)
    block(x)[0, 0, size // 2, size // 2].backward()
    rows, cols = torch.nonzero(x.grad.abs().sum(1)[0], as_tuple=True)
    return int(torch.maximum((rows - size // 2).abs(), (cols - size // 2).abs()).max())


def test_registry_lists_every_block_of_the_issue() -> None:
    assert {"se", "eca", "cbam", "coord", "triplet", "lka", "msca", "gnconv", "sk"} <= set(list_attn())


def test_none_means_no_block() -> None:
    assert create_attn(None, 8) is None and create_attn("none", 8) is None


def test_unknown_block_suggests_close_names() -> None:
    with pytest.raises(ValueError, match="did you mean coord"):
        create_attn("cord", 8)


@pytest.mark.parametrize("name", list_attn())
@pytest.mark.parametrize("shape", [(2, 32, 8, 8), (2, 64, 5, 7)])
def test_keeps_the_input_shape(name: str, shape: tuple[int, ...]) -> None:
    block = create_attn(name, shape[1])
    assert block(torch.randn(*shape)).shape == shape


def test_se_gate_is_constant_over_space() -> None:
    gate = gate_of(create_attn("se", 32), torch.rand(2, 32, 6, 6) + 0.5)
    assert torch.allclose(gate, gate[..., :1, :1].expand_as(gate), atol=1e-5)


@pytest.mark.parametrize("k_size", [3, 5, 7])
def test_eca_kernel_follows_k_size(k_size: int) -> None:
    assert create_attn("eca", 64, k_size=k_size).conv.kernel_size == (k_size,)


def test_eca_kernel_adapts_to_channels_when_unset() -> None:
    for channels in (64, 256):  # the paper's |log2(C)/2 + 1/2|, rounded up to odd
        t = int(abs(math.log2(channels) / 2 + 0.5))
        assert create_attn("eca", channels).conv.kernel_size == (t if t % 2 else t + 1,)


def test_eca_refuses_an_even_kernel() -> None:
    with pytest.raises(ValueError, match="odd"):
        create_attn("eca", 64, k_size=4)


def test_cbam_gates_channels_and_space() -> None:
    block = create_attn("cbam", 32)
    gate = gate_of(block, torch.rand(2, 32, 6, 6) + 0.5)
    assert gate[0, 0].std() > 0, "the spatial gate varies over positions"
    assert block.spatial.conv.conv.kernel_size == (7, 7)


def test_coord_gate_depends_on_position() -> None:
    gate = gate_of(create_attn("coord", 32).eval(), torch.rand(2, 32, 8, 8) + 0.5)
    assert gate[0, 0].std(0).mean() > 0 and gate[0, 0].std(1).mean() > 0  # varies along H and W


@pytest.mark.parametrize("pool", ["avg+max", "avg+l1", "avg+l2"])
def test_coord_pooling_options_change_the_output(pool: str) -> None:
    torch.manual_seed(0)
    base = create_attn("coord", 16).eval()
    variant = create_attn("coord", 16, pool=pool).eval()
    variant.load_state_dict(base.state_dict())
    x = torch.randn(2, 16, 6, 6)
    assert not torch.allclose(base(x), variant(x))


ACTIVATIONS = [
    ("hardswish", "Hardswish"), ("relu", "ReLU"), ("elu", "ELU"), ("sigmoid", "Sigmoid"), ("softmax", "Softmax")
]


@pytest.mark.parametrize("activation, kind", ACTIVATIONS)
def test_coord_activation_option(activation: str, kind: str) -> None:
    assert type(create_attn("coord", 16, activation=activation).act).__name__ == kind


def test_coord_softmax_normalises_the_shared_channels_at_each_position() -> None:
    # Seed 000's softmax row: the encoded strips become one distribution per strip position.
    block = create_attn("coord", 32, activation="softmax").eval()
    seen = []
    block.act.register_forward_hook(lambda module, args, out: seen.append(out))
    x = torch.randn(2, 32, 6, 5)
    assert block(x).shape == x.shape
    assert torch.allclose(seen[0].sum(1), torch.ones(2, 6 + 5, 1))


def test_coord_refuses_unknown_options() -> None:
    with pytest.raises(ValueError, match="pool"):
        create_attn("coord", 16, pool="median")
    with pytest.raises(ValueError, match="activation"):
        create_attn("coord", 16, activation="gelu")


def test_triplet_batchnorm_momentum_is_the_official_codes() -> None:
    # The authors' BasicConv uses BatchNorm2d(momentum=0.01), not PyTorch's default 0.1.
    block = create_attn("triplet", 16)
    assert {gate.bn.momentum for gate in (block.gate_cw, block.gate_hc, block.gate_hw)} == {0.01}


def test_triplet_parameters_do_not_depend_on_width() -> None:
    counts = {sum(p.numel() for p in create_attn("triplet", c).parameters()) for c in (8, 64, 512)}
    assert counts == {3 * (2 * 7 * 7 + 2)}  # three 7x7 gates over Z-pooled maps, with BN


def test_lka_receptive_field_is_the_decomposed_21x21_kernel() -> None:
    # 5x5 depthwise (radius 2) then 7x7 depthwise dilated 3 (radius 9).
    assert receptive_radius(create_attn("lka", 4), 4) == 2 + 9


@pytest.mark.parametrize("kernel_sizes, radius", [((7, 11, 21), 12), ((7,), 5)])
def test_msca_receptive_field_follows_the_largest_strip(kernel_sizes: tuple[int, ...], radius: int) -> None:
    assert receptive_radius(create_attn("msca", 4, kernel_sizes=kernel_sizes), 4) == radius


@pytest.mark.parametrize("order", [1, 3, 5])
def test_gnconv_has_one_gate_per_order(order: int) -> None:
    block = create_attn("gnconv", 64, order=order)
    assert len(block.pws) == order - 1
    assert block.dims == [64 // 2**k for k in range(order)][::-1]


def test_gnconv_needs_channels_divisible_by_its_order() -> None:
    with pytest.raises(ValueError, match="divisible"):
        create_attn("gnconv", 24, order=5)


def test_sk_selects_between_two_kernels_with_a_softmax() -> None:
    block = create_attn("sk", 32, groups=4)
    assert [path.conv.dilation for path in block.paths] == [(1, 1), (2, 2)]  # 3x3 and "5x5"
    weights = block.attn(torch.randn(2, 2, 32, 6, 6))
    assert torch.allclose(weights.sum(1), torch.ones(2, 32, 1, 1))
