"""Every spec under search_spaces/ trains each of its distinct configurations for one optimizer
step: generated data in the dataset's real archive format, a one-batch subset, one epoch (plus
one of pre-training), pretrained weights off and resizes shrunk, through ``Trainer.from_config``
(no Ray). Expanding a spec validates each row as a config; only training catches a row whose
model rejects its input or whose optimizer or schedule fails at its first step, so each row
trains here instead of hours into a sweep. One test per row, so a failure names the row."""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path
from typing import Any

import pytest

import models
from orchestrator.train.config import TrialConfig
from orchestrator.designs import get_design
from orchestrator.spec.plans import TrialPlan, config_key, resolve_config
from orchestrator.spec.loading import SEARCH_SPACES_DIR, load_yaml
from orchestrator.study import SweepSpec, parse_spec
from orchestrator.train import Trainer

SPECS = sorted(SEARCH_SPACES_DIR.rglob("*.yaml"))
STEP_IMAGES = 4  # one batch: BatchNorm needs more than one image, mixup an even count
SMOKE_SIZE = 32  # resizes (a pretrained model's 224) shrink to this, so CPUs finish in seconds
# Models sized for one input and no other (Mixer-B/16's token-mixing MLPs span the 14x14 patch
# grid of 224px): they keep their resize, and their rows take tens of seconds, so they are slow.
FIXED_INPUT = {"mlp_mixer_b16"}
ADAPTIVE_ROW = "base"  # an optuna search's stand-in row


def spec_of(path: Path) -> SweepSpec:
    return parse_spec(load_yaml(path), default_name=path.stem)


def row_labels(spec: SweepSpec) -> list[tuple[str, str]]:
    """(label, model name) of each row the design asks for, without resolving a config; an
    adaptive design (optuna) has none until it runs, and its base config stands in."""
    try:
        cells = get_design(spec.search.kind).cells(spec)
    except NotImplementedError:
        return [(ADAPTIVE_ROW, spec.model.name)]
    base = spec.model.name
    return [(cell.label, cell.factors.get("model.name", cell.factors.get("model", {}).get("name", base)))
            for cell in cells]


def rows() -> list[Any]:
    params = []
    for path in SPECS:
        stem = str(path.relative_to(SEARCH_SPACES_DIR).with_suffix(""))
        for label, model in row_labels(spec_of(path)):
            marks = [pytest.mark.slow] if model in FIXED_INPUT else []
            params.append(pytest.param(path, label, id=f"{stem}:{label}", marks=marks))
    return params


@functools.cache
def distinct_configs(path: Path) -> dict[str, TrialPlan]:
    """The first plan of each configuration the spec trains, by row label, in run order."""
    spec = spec_of(path)
    plans = get_design(spec.search.kind).expand(spec)
    if plans is None:  # proposals come while it runs; expanding validated each axis's extremes
        config = resolve_config(spec, {}, where="base")
        plans = [TrialPlan(config_key(config), ADAPTIVE_ROW, {}, spec.train.seed, config)]
    first: dict[str, TrialPlan] = {}
    for plan in plans:
        first.setdefault(plan.config_key, plan)
    return {plan.label: plan for plan in first.values()}


def shrink_resizes(config: dict[str, Any]) -> None:
    """Resize to ``SMOKE_SIZE`` wherever the recipe resizes; a model built for the size it is
    resized to (``img_size``) is built for the shrunk one, and a row whose model is built for
    another size keeps its sizes, so the mismatch fails here as it would in the sweep."""
    data, model = config["data"], config["model"]
    if model["name"] in FIXED_INPUT:
        return
    if data["image_size"] is not None:
        options = models.model_options(model["name"]) or {}
        built_for = model.get("img_size", options["img_size"].default) if "img_size" in options else None
        if built_for not in (None, data["image_size"]):
            return
        if built_for is not None:
            model["img_size"] = SMOKE_SIZE
        data["image_size"] = SMOKE_SIZE
    for item in data["augment"] if isinstance(data["augment"], list) else []:
        if isinstance(item, dict) and item.get("name") == "random_resized_crop":
            item["size"] = SMOKE_SIZE


def one_step(config: dict[str, Any], root: Path) -> TrialConfig:
    """``config`` cut to one optimizer step per epoch, one epoch and one of pre-training."""
    config = copy.deepcopy(config)
    data, model, train = config["data"], config["model"], config["train"]
    doubled = data["augment_mode"] == "concat"  # an epoch shows each image twice
    data.update(root=str(root), download=False, subset=STEP_IMAGES, eval_batch_size=16,
                batch_size=STEP_IMAGES * (2 if doubled else 1))
    shrink_resizes(config)
    if model.get("pretrained"):
        model["pretrained"] = False  # no network here; the architecture is the same
    train.update(epochs=1, device="cpu")
    if train["pretrain"] is not None:
        train["pretrain"]["epochs"] = 1
    return TrialConfig.of_plan(config)  # as a trial reads it: expanding validated the row


def test_there_is_a_study_per_seed_report() -> None:
    assert len([path for path in SPECS if path.parent.name == "studies"]) >= 5


@pytest.mark.parametrize(("path", "label"), rows())
def test_every_configuration_trains_one_step(path: Path, label: str, study_data: Path) -> None:
    configs = distinct_configs(path)
    if label not in configs:
        pytest.skip(f"{label} is the same configuration as an earlier row")
    plan = configs[label]
    trainer = Trainer.from_config(one_step(plan.config, study_data), seed=plan.seed)
    history = trainer.fit()
    assert trainer.global_step == 1, f"{trainer.global_step} classification steps, not one"
    assert len(history) == trainer.total_epochs
    assert all(math.isfinite(value) for epoch in history for value in epoch.values())
    if label == next(iter(configs)):  # the report profiles the model: once per spec, for time
        report = trainer.final_report()
        assert report.per_class["images"].sum() == len(trainer.val_loader.labels)
