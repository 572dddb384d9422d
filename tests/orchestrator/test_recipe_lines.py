"""``--dry-run`` states each row's whole recipe: input size (and why resized), smoothing, stages."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.designs import get_design
from orchestrator.recipe_lines import recipe_lines
from orchestrator.study import load_spec

ASPECTS = ["model", "input", "data", "normalize", "loss", "optimizer", "schedule", "stages", "epochs", "precision"]


def dry_run_recipes(spec: str) -> dict[str, dict[str, str]]:
    """Row label -> aspect -> text, read from the dry run's recipes section."""
    result = CliRunner().invoke(main, ["sweep", spec, "--dry-run"])
    assert result.exit_code == 0, result.output
    section = result.output.split("recipes (", 1)[1]
    rows: dict[str, dict[str, str]] = {}
    for line in section.splitlines()[1:]:
        if match := re.match(r"^  (\S+)  \[[0-9a-f]{10}\]$", line):
            current = rows.setdefault(match[1], {})
        elif match := re.match(r"^    (\w+) +(.*)$", line):
            current[match[1]] = match[2]
    return rows


def test_every_row_of_the_backbone_table_states_its_input_size() -> None:
    spec = load_spec("studies/cifar100_backbone_comparison.yaml")
    plans = get_design("variants").expand(spec)
    rows = dry_run_recipes("studies/cifar100_backbone_comparison.yaml")
    assert set(rows) == {plan.label for plan in plans} and len(rows) == 17
    for plan in plans:
        data, model = plan.config["data"], plan.config["model"]
        shown = rows[plan.label]
        assert list(shown) == ASPECTS, plan.label
        if data["image_size"] not in (None, 32):
            assert shown["input"] == f"{data['image_size']} px, resized from 32 px: data.image_size"
        elif data["image_size"] == 32:
            assert shown["input"] == "32 px, the dataset's own size (data.image_size)"
        elif model.get("pretrained"):
            assert "resized from 32 px: the pretrained weights' input size, as data.image_size is unset" in shown["input"]
        else:
            assert shown["input"].startswith("32 px as stored, not resized"), plan.label


@pytest.mark.parametrize("model, side", [("timm/convnext_tiny", 224), ("resnest50d", 224), ("cspresnet50", 256)])
def test_a_pretrained_row_without_image_size_says_it_is_resized_to_its_weights_size(model: str, side: int) -> None:
    config = {"data": {"dataset": "cifar100"}, "model": {"name": model, "pretrained": True}}
    lines = dict(line.split(None, 1) for line in recipe_lines(config))
    assert lines["input"] == (f"{side} px, resized from 32 px: the pretrained weights' input size, "
                              f"as data.image_size is unset (set it to train at another size)")
    assert lines["normalize"] == "the pretrained weights' statistics (auto, pretrained)"
    assert "pretrained weights" in lines["model"] and "fine-tuning pretrained weights" in lines["stages"]


def test_seed_000_shows_the_label_smoothing_of_its_v1b_row_only() -> None:
    rows = dry_run_recipes("studies/cifar100_ca_model_comparison.yaml")
    assert rows["res2net_ca_v1b"]["loss"] == "cross-entropy, label smoothing 0.1"
    assert "cuts: x0.5 every 5 epochs" in rows["res2net_ca_v1b"]["schedule"]
    assert "(alternate)" in rows["res2net_ca_v1b"]["data"]
    assert {rows[label]["loss"] for label in rows if label != "res2net_ca_v1b"} == {"cross-entropy, label smoothing 0"}


def test_seed_004_shows_the_pre_training_stage_and_the_label_fraction() -> None:
    rows = dry_run_recipes("studies/tinyimagenet_semi_supervised.yaml")
    improved = rows["improved_25_33e"]
    assert improved["stages"].startswith("pre-training 25 epochs (mse reconstruction of every training image")
    assert improved["stages"].endswith("12 holes of 16 px cut from the input), then classification 33 epochs "
                                       "(training from scratch)")
    assert "10% of the labels (stratified, split seed 0)" in improved["data"]
    assert "pre-training 25 epochs" in rows["first_try"]["stages"] and "holes" not in rows["first_try"]["stages"]


def test_seed_004_task_1_shows_the_densenet_cut_and_early_stopping() -> None:
    rows = dry_run_recipes("studies/tinyimagenet_from_scratch.yaml")
    assert rows["alexnet_30e"]["epochs"].endswith("early stopping after 5 epochs without val/top1 improving by 0")
    assert rows["densenet_24_48e_cut"]["schedule"].endswith("cuts: x0.1 from epoch 24")
    assert rows["densenet_24_48e_restart"]["schedule"].endswith("cuts: cycle restarted at epoch 24")


@pytest.mark.parametrize("channels_last, shown", [
    ("auto", "channels_last auto (on for CUDA under autocast, off on CPU and for fp32)"),
    (True, "channels_last on"), (False, "channels_last off")])
def test_the_precision_line_shows_channels_last_as_asked_and_the_graph_setting(channels_last: object,
                                                                              shown: str) -> None:
    config = {"data": {"dataset": "digits"}, "model": {"name": "resnet20"},
              "train": {"channels_last": channels_last, "cuda_graphs": "off"}}
    precision = dict(line.split(None, 1) for line in recipe_lines(config))["precision"]
    assert f"; {shown}, compile off, cuda_graphs off, device auto" in precision
