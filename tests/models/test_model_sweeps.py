"""Specs sweep over model names and model options, and --dry-run shows every trial."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.study import parse_spec


def dry_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sweep", *args, "--dry-run"])
    return result.exit_code, result.output


def trials(output: str) -> list[tuple[str, str, str]]:
    """(config key, seed, label) of each listed trial."""
    return re.findall(r"^\s+\d+\s+(\w+)\s+seed=(\d+)\s+(\S+)", output, flags=re.MULTILINE)


def test_attention_position_ablation() -> None:
    code, output = dry_run("ablations/attention_position.yaml")
    assert code == 0, output
    assert "12 trials (4 configurations)" in output
    listed = trials(output)
    assert [label for _, seed, label in listed if seed == "0"] == [
        "baseline",
        'attention_position="after_conv1"',
        'attention_position="before_add"',
        'attention_position="after_add"',
    ]
    assert len({key for key, _, _ in listed}) == 4


def test_ghost_ratio_ablation() -> None:
    code, output = dry_run("ablations/ghost_ratio.yaml")
    assert code == 0, output
    assert "9 trials (3 configurations)" in output
    assert [label for _, seed, label in trials(output) if seed == "0"] == ["baseline", "ratio=2", "ratio=4"]


@pytest.fixture
def name_grid(tmp_path: Path) -> Path:
    spec = {
        "name": "zoo_grid",
        "data": {"dataset": "cifar100"},
        "model": {"name": "resnet20"},
        "search": {
            "kind": "grid",
            "factors": {"model.name": ["resnet20", "resnet32"], "model.attention": [None, "eca", "coord"]},
        },
    }
    path = tmp_path / "zoo_grid.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_grid_over_model_name_and_option(name_grid: Path) -> None:
    code, output = dry_run(str(name_grid))
    assert code == 0, output
    assert "6 trials (6 configurations)" in output
    assert len({key for key, _, _ in trials(output)}) == 6


def test_an_option_the_model_lacks_is_a_spec_error(name_grid: Path) -> None:
    code, output = dry_run(str(name_grid), "search.factors.model.name=[resnet20, vit]")
    assert code == 2
    assert "vit has no option 'attention'" in output


def test_an_ill_typed_option_level_is_a_spec_error() -> None:
    code, output = dry_run("ablations/attention_position.yaml", "search.factors.model.attention_position=[middle]")
    assert code == 2
    assert ("model.attention_position: model resnet20: Input should be 'after_conv1', 'after_relu1', 'before_add' "
            "or 'after_add' (got 'middle')") in output


@pytest.mark.parametrize("model", [{"name": "eca_resnet20", "k_size": None}, {"name": "sample_resnet", "attention": None}])
def test_a_none_the_builder_gives_a_meaning_passes_the_option_check(model: dict) -> None:
    """The options are checked against the builders' annotations: these say None is allowed
    (ECA's kernel adapting to each layer's channels; no attention), as the builders take it."""
    spec = parse_spec({"name": "none", "data": {"dataset": "synthetic"}, "model": model, "search": {"kind": "grid"}})
    assert spec.model.options == {key: value for key, value in model.items() if key != "name"}
