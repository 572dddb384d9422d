"""Every seed report's recipe (search_spaces/studies/) runs end to end in smoke mode: one epoch
(plus one of pre-training), a small subset, generated data in the dataset's real archive format,
through ``Trainer.from_config`` (no Ray). Every cell of the study is validated as a config."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import models
from orchestrator.designs import get_design
from orchestrator.spec import SEARCH_SPACES_DIR, apply_override, load_yaml, parse_spec
from orchestrator.train import Trainer

STUDIES = sorted((SEARCH_SPACES_DIR / "studies").glob("*.yaml"))
SMOKE = ["train.epochs=1", "train.device=cpu", "data.download=false", "data.subset=8",
         "data.batch_size=8", "data.eval_batch_size=16"]
SMOKE_SIZE = 32  # resizes (a pretrained model's 224) shrink to this, so CPUs finish in seconds


def model_names(raw: dict[str, Any]) -> tuple[str, set[str]]:
    """(the base model, every model a cell of the study uses)."""
    base = raw.get("model", {}).get("name", "resnet20")
    names = {base}
    for path, levels in raw.get("search", {}).get("factors", {}).items():
        if path == "model":
            names |= {level.get("name", base) for level in levels}
        elif path == "model.name":
            names |= set(levels)
    return base, names


def shrink_resizes(raw: dict[str, Any]) -> None:
    """Resize to ``SMOKE_SIZE`` wherever the recipe resizes (the spec's other steps stay)."""
    data = raw.get("data", {})
    if "image_size" in data:
        data["image_size"] = SMOKE_SIZE
    for item in data.get("augment", []) if isinstance(data.get("augment"), list) else []:
        if isinstance(item, dict) and item.get("name") == "random_resized_crop":
            item["size"] = SMOKE_SIZE


def smoke_overrides(raw: dict[str, Any], root: Path) -> list[str]:
    overrides = [*SMOKE, f"data.root={root}"]
    if raw.get("model", {}).get("pretrained"):
        overrides.append("model.pretrained=false")  # no network here; the architecture is the same
    if "pretrain" in raw.get("train", {}):
        overrides.append("train.pretrain.epochs=1")
    return overrides


def test_there_is_a_study_per_seed_report() -> None:
    assert len(STUDIES) >= 5


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_study_runs_one_smoke_epoch(path: Path, study_data: Path) -> None:
    raw = load_yaml(path)
    base, names = model_names(raw)
    if not models.is_model(base):
        pytest.skip(f"{base} is not registered in this checkout")
    shrink_resizes(raw)
    for override in smoke_overrides(raw, study_data):
        apply_override(raw, override)
    spec = parse_spec(raw, default_name=path.stem)
    if all(models.is_model(name) for name in names):
        assert get_design(spec.search.kind).expand(spec)  # every cell of the study is a valid config
    trainer = Trainer.from_config(spec.trial_config(), seed=spec.train.seed)
    history = trainer.fit()
    assert len(history) == trainer.total_epochs
    assert all(math.isfinite(value) for epoch in history for value in epoch.values())
    report = trainer.final_report()
    assert report.per_class["images"].sum() == len(trainer.val_loader.labels)
