"""`bench gpu` names only models the zoo has, and projects the study spec as a user would run it:
its rows, batch, input size and precision, read through the spec loader and the design."""

from __future__ import annotations

import models
import yaml

from orchestrator.bench import gpu, sharing
from orchestrator.bench.study import PACKING_MODELS, STUDY, study_configs, study_rows
from orchestrator.spec.loading import resolve_spec_path


def test_every_model_the_bench_trains_resolves_in_the_zoo() -> None:
    workloads = [w for plan in (gpu.FULL, gpu.QUICK) for w in (plan.precision, plan.small_batch, *plan.packing,
                                                               *plan.sharing) if w is not None]
    assert {*sharing.FULL_WORKLOADS, *sharing.QUICK_WORKLOADS} <= set(workloads)
    named = {*PACKING_MODELS, *(w.model for w in workloads)}
    named |= {config["model"]["name"] for config in study_configs().values()}
    assert [name for name in sorted(named) if not models.is_model(name)] == []


def test_projection_rows_are_the_spec_rows() -> None:
    """Read the YAML itself (not through the loader) and compare it with what the bench projects."""
    raw = yaml.safe_load(resolve_spec_path(STUDY).read_text())
    base, variants = raw["data"], raw["search"]["variants"]
    rows = {row.label: row for row in study_rows()}
    assert sorted(rows) == sorted(variants)
    for label, changes in variants.items():
        row = rows[label]
        assert row.model == changes.get("model.name", raw["model"]["name"]), label
        assert row.batch_size == changes.get("data.batch_size", base["batch_size"]), label
        assert row.input_size == changes.get("data.image_size", base.get("image_size", 32)), label
        assert row.precision == changes.get("train.amp", raw["train"].get("amp", "auto")), label
        options = {k.removeprefix("model."): v for k, v in changes.items() if k.startswith("model.")}
        assert dict(row.model_options) == {k: v for k, v in options.items() if k not in ("name", "pretrained")}
    quick = study_rows(labels=gpu.QUICK.labels)
    assert [row.label for row in quick] == [label for label in rows if label in gpu.QUICK.labels]
