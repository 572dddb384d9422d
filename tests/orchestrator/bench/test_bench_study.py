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
        schedule = changes.get("train.scheduler", raw["train"]["scheduler"])
        assert {k: v for k, v in dict(row.train)["scheduler"] if k in schedule} == schedule, label
        options = {k.removeprefix("model."): v for k, v in changes.items() if k.startswith("model.")}
        assert dict(row.model_options) == {k: v for k, v in options.items() if k not in ("name", "pretrained")}
    quick = study_rows(labels=gpu.QUICK.labels)
    assert [row.label for row in quick] == [label for label in rows if label in gpu.QUICK.labels]


def test_the_rows_follow_a_changed_spec(tmp_path) -> None:
    """Every row of the shipped spec has batch 1024 and amp auto, which a copied table would match
    too: a copy of the spec with another batch and precisions is projected as changed."""
    raw = yaml.safe_load(resolve_spec_path(STUDY).read_text())
    raw["data"]["batch_size"], raw["train"]["amp"] = 256, "bf16"
    raw["search"]["variants"]["resnet_20"]["train.amp"] = "off"
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(raw))
    rows = {row.label: row for row in study_rows(str(path))}
    assert sorted(rows) == sorted(raw["search"]["variants"])
    assert {row.batch_size for row in rows.values()} == {256}
    assert rows.pop("resnet_20").precision == "off" and {row.precision for row in rows.values()} == {"bf16"}


def test_a_row_trains_its_own_schedule_with_a_warm_up_that_fits_the_timed_epochs() -> None:
    """The stepped cosine with 5 warm-up epochs of the pretrained rows: stepped per batch in the
    bench too, its warm-up cut to the one untimed epoch (5 would not fit the 3 the bench trains)."""
    import torch

    from orchestrator.train import Trainer

    row = next(row for row in study_rows() if dict(dict(row.train)["scheduler"]).get("warmup_epochs") == 5)
    workload = gpu.QUICK.row_workload(row).scaled(model="resnet20", model_options=(), steps=4, batch_size=4,
                                                 input_size=None, timed_epochs=2)  # the row's recipe, a small model
    config = workload.config(gpu.SETTINGS[0], torch.device("cpu"))
    assert config["train"]["scheduler"] == {"name": "cosine", "warmup_epochs": 1, "interval": "step"} | {
        k: v for k, v in config["train"]["scheduler"].items() if k not in ("name", "warmup_epochs", "interval")}
    trainer = Trainer.from_config(config, seed=0, dataset=workload.dataset())
    lrs = [trainer.run_epoch()["opt/lr"] for _ in range(1 + workload.timed_epochs)]
    assert lrs[0] < lrs[1] > lrs[2]  # each epoch's first LR: warming up, at the peak, decaying
