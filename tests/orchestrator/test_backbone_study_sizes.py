"""Seed 003's table states each row's input size: 32 px as the seed's pipeline (32-px crops, no
resize), except rows whose network cannot run at 32 px, which say why in the row."""

from __future__ import annotations

import re

import models
import pytest
import torch
import yaml

from orchestrator.spec.loading import resolve_spec_path

STUDY = resolve_spec_path("studies/cifar100_backbone_comparison.yaml")


def variant_blocks() -> dict[str, str]:
    """Each variant's lines of the YAML file, comments included."""
    text = STUDY.read_text().split("  variants:\n", 1)[1].split("\n  repeats:", 1)[0]
    blocks = re.split(r"\n(?=    [a-z_0-9]+:)", text)
    return {block.split(":", 1)[0].strip(): block for block in blocks}


def sizes() -> dict[str, object]:
    variants = yaml.safe_load(STUDY.read_text())["search"]["variants"]
    return {name: (changes or {}).get("data.image_size") for name, changes in variants.items()}


def test_every_row_states_its_input_size_32_px_unless_it_says_why_not() -> None:
    blocks = variant_blocks()
    assert sorted(blocks) == sorted(sizes())
    for name, size in sizes().items():
        assert size is not None, f"{name}: no data.image_size"
        if size != 32:
            assert "# " in blocks[name] and "not 32" in blocks[name], f"{name}: {size} px without a reason"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(sizes()))
def test_rows_at_32_px_run_at_32_px_and_the_others_cannot(name: str) -> None:
    """A quick forward at 32 px, random weights (the architecture is the pretrained one's)."""
    changes = yaml.safe_load(STUDY.read_text())["search"]["variants"][name] or {}
    model_name = changes.get("model.name", "resnet20")
    options = {k.removeprefix("model."): v for k, v in changes.items()
               if k.startswith("model.") and k not in ("model.name", "model.pretrained")}
    net = models.create_model(model_name, num_classes=100, **options).eval()
    images = torch.randn(1, 3, 32, 32)
    if sizes()[name] == 32:
        assert net(images).shape == (1, 100)
    else:
        with pytest.raises((RuntimeError, AssertionError)):
            net(images)
