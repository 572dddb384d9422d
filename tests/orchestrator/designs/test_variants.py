"""The variants design: named rows in order, the reference first, each refused mistake naming
its key, the dry-run's recipe lines, and a real sweep whose MLflow runs carry the row names."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.designs import get_design
from orchestrator.errors import SpecError
from orchestrator.spec.loading import SEARCH_SPACES_DIR, load_yaml
from orchestrator.study import parse_spec

VARIANTS = {"sgd": {}, "adamw": {"train.optimizer": {"name": "adamw", "lr": 1e-3}},
            "deeper": {"model.name": "resnet32", "train.epochs": 3}}


def variants_spec(**search):
    return parse_spec({"name": "v", "search": {"kind": "variants", "variants": VARIANTS, **search}})


def test_rows_expand_in_order_with_the_reference_first_and_repeats_seeds_each() -> None:
    plans = get_design("variants").expand(variants_spec(reference="adamw", repeats=2))
    assert [(plan.label, plan.seed) for plan in plans] == [
        ("adamw", 0), ("adamw", 1), ("sgd", 0), ("sgd", 1), ("deeper", 0), ("deeper", 1)]
    configs = {plan.label: plan.config for plan in plans}
    assert configs["adamw"]["train"]["optimizer"]["name"] == "adamw"
    assert configs["deeper"]["model"]["name"] == "resnet32" and configs["deeper"]["train"]["epochs"] == 3
    assert configs["sgd"]["train"]["optimizer"]["name"] == "sgd" and configs["sgd"]["model"]["name"] == "resnet20"


def test_without_a_reference_the_rows_keep_the_spec_order() -> None:
    plans = get_design("variants").expand(variants_spec())
    assert [plan.label for plan in plans] == ["sgd", "adamw", "deeper"]


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"reference": "adam"}, r"^search\.reference: 'adam' is not a variant \(variants: sgd, adamw, deeper\)"),
        ({"variants": {}}, r"^search\.variants: name at least one variant"),
        ({"factors": {"train.epochs": [1, 2]}}, r"^search\.factors: not an option of kind variants "
                                                r"\(an option of kind: ablation, grid; allowed: kind, "),
        ({"variants": {"a": {"resources.cpus_per_trial": 2}}}, r"search\.variants\.a\.resources\.cpus_per_trial: "
                                                                r"search keys are paths into the trial config"),
    ],
)
def test_mistakes_are_refused_naming_the_key(search: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        get_design("variants").expand(variants_spec(**search))


def test_two_variants_with_one_configuration_are_refused_naming_the_second() -> None:
    spec = variants_spec(variants={**VARIANTS, "deep": {"train.epochs": 3, "model.name": "resnet32"}})
    with pytest.raises(SpecError, match=r"^search\.variants\.deep: the same configuration as another variant"):
        get_design("variants").expand(spec)


def test_dry_run_lists_every_row_of_the_backbone_comparison_with_its_recipe() -> None:
    result = CliRunner().invoke(main, ["sweep", "studies/cifar100_backbone_comparison.yaml", "--dry-run"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.split("recipes (")[0].strip().splitlines()  # the one-line rows, before the recipes
    assert header == "17 variants x 3 seeds = 51 trials (reference: resnet_20)"
    rows = [row for row in rows if row.startswith("  ")]
    names = list(load_yaml(SEARCH_SPACES_DIR / "studies/cifar100_backbone_comparison.yaml")["search"]["variants"])
    assert [row.split()[0] for row in rows] == ["resnet_20", *(name for name in names if name != "resnet_20")]
    recipes = {row.split()[0]: row.split(maxsplit=2)[2] for row in rows}
    assert recipes["resnet_20"] == "resnet20 | cifar100 32px aug=standard bs=1024 | sgd lr=0.1 wd=0.0005 | cosine | 200 epochs"
    assert recipes["coatnet_0"].startswith('coatnet_0 {"pretrained": true} |')
    assert 'adamw lr=0.001 wd=0.05 | cosine {"interval": "step", "warmup_epochs": 5}' in recipes["coatnet_0"]
    assert not Path("mlflow.db").exists()


def test_a_variants_sweep_labels_its_runs_with_the_variant_names(ray_local, store_uri: str, tmp_path: Path) -> None:
    spec = {"name": "two_rows", "data": {"dataset": "digits", "subset": 64, "batch_size": 32},
            "model": {"name": "resnet20"}, "train": {"epochs": 1, "optimizer": {"name": "sgd", "lr": 0.05}},
            "search": {"kind": "variants", "reference": "plain", "repeats": 1,
                       "variants": {"with_eca": {"model.attention": "eca"}, "plain": {}}},
            "tracking": {"uri": store_uri}, "resources": {"storage": str(tmp_path / "ray")}}
    path = tmp_path / "two_rows.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["sweep", str(path)])
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(store_uri)
    runs = mlflow.search_runs(experiment_names=["two_rows"])
    trials = runs[runs["tags.orchestrate.kind"] == "trial"]
    assert sorted(trials["tags.orchestrate.label"]) == ["plain", "with_eca"]
    assert (trials["status"] == "FINISHED").all()
