"""Residual blocks: attention positions, shortcuts and conv stand-ins."""

from __future__ import annotations

import pytest
import torch

from models.layers.residual import ATTENTION_POSITIONS, BasicBlock, Bottleneck, make_shortcut


@pytest.mark.parametrize("block", [BasicBlock, Bottleneck])
@pytest.mark.parametrize("position", ATTENTION_POSITIONS)
def test_attention_at_every_position_keeps_the_block_shape(block: type, position: str) -> None:
    module = block(64, 32, 2, attention="se", attention_position=position)
    assert module(torch.randn(2, 64, 8, 8)).shape == (2, 32 * block.expansion, 4, 4)


def test_attention_position_changes_the_function() -> None:
    torch.manual_seed(0)
    blocks = {p: BasicBlock(16, 16, attention="eca", attention_position=p).eval() for p in ATTENTION_POSITIONS}
    state = blocks["before_add"].state_dict()
    x = torch.randn(2, 16, 6, 6)
    outputs = []
    for block in blocks.values():
        block.load_state_dict(state)
        outputs.append(block(x))
    assert all(not torch.allclose(a, b) for a, b in zip(outputs, outputs[1:]))


def test_bottleneck_attention_after_conv1_sees_the_bottleneck_width() -> None:
    block = Bottleneck(256, 64, attention="coord", attention_position="after_conv1", width_factor=2)
    assert block.attn.conv_h.out_channels == 128


def test_unknown_position_is_refused() -> None:
    with pytest.raises(ValueError, match="after_conv1, after_relu1, before_add, after_add"):
        BasicBlock(8, 8, attention="se", attention_position="middle")


def test_shortcuts() -> None:
    x = torch.randn(2, 16, 8, 8)
    assert sum(p.numel() for p in make_shortcut("a", 16, 32, 2).parameters()) == 0
    for kind in "abd":
        assert make_shortcut(kind, 16, 32, 2)(x).shape == (2, 32, 4, 4)
    assert isinstance(make_shortcut("d", 16, 32, 2)[0], torch.nn.AvgPool2d)
    assert isinstance(make_shortcut("b", 16, 16, 1), torch.nn.Identity)


@pytest.mark.parametrize("conv, kwargs", [("ghost", {"ratio": 2}), ("sk", {"groups": 8}), ("res2", {"scale": 4})])
def test_bottleneck_takes_any_conv_block(conv: str, kwargs: dict) -> None:
    block = Bottleneck(64, 32, 2, conv=conv, conv_kwargs=kwargs)
    assert block(torch.randn(2, 64, 8, 8)).shape == (2, 128, 4, 4)
