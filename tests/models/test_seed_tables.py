"""docs/seeds.md lists, for every seed table, the spec that runs it and each row's parameter
count; this keeps the doc, the specs and the zoo in step.

A row's count is the trainable parameters of the model its spec builds at the dataset's class
count (a frozen backbone does not count, as the seeds count it). Pretrained weights do not change
a network's shape, so rows are built without them (nothing is downloaded).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch

import models
from orchestrator.designs import get_design
from orchestrator.study import load_spec

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "seeds.md"
SPEC_LINE = re.compile(r"^Spec: `(?P<path>[^`]+)`")
CLASSES = {"cifar10": 10, "cifar100": 100, "tiny-imagenet": 200}  # the seeds' datasets


def doc_cells(column: int) -> dict[str, dict[str, str]]:
    """spec path -> {row variant: the cell in ``column``}, from every "Spec: `path`" line and its table."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in DOC.read_text().splitlines():
        if match := SPEC_LINE.match(line):
            current = tables.setdefault(match["path"], {})
        elif current is not None and line.startswith("|") and "`" in line:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            current[cells[1].strip("`")] = cells[column]
    return tables


def doc_tables() -> dict[str, dict[str, int]]:
    """spec path -> {row variant: our count}."""
    return {path: {row: int(count.replace(",", "")) for row, count in rows.items()}
            for path, rows in doc_cells(2).items()}


def spec_rows(path: str) -> dict[str, dict[str, Any]]:
    """Row name -> resolved trial config: a variants spec's rows, or an ablation's configurations."""
    spec = load_spec(ROOT / path)
    return {plan.label: plan.config for plan in get_design(spec.search.kind).expand(spec)}


def trainable_params(config: dict[str, Any]) -> int:
    options = {key: value for key, value in config["model"].items() if key != "name"}
    options["pretrained"] = False
    if "pretrained" not in config["model"]:
        del options["pretrained"]
    with torch.device("meta"):
        model = models.create_model(config["model"]["name"], num_classes=CLASSES[config["data"]["dataset"]], **options)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


TABLES = doc_tables()


def test_every_seed_table_spec_is_in_the_doc() -> None:
    # studies/ and ablations/ hold one spec per seed table (DESIGN.md's layout).
    specs = {str(p.relative_to(ROOT)) for folder in ("studies", "ablations")
             for p in (ROOT / "search_spaces" / folder).glob("*.yaml")}
    assert specs == set(TABLES), f"specs without a table in docs/seeds.md: {specs - set(TABLES)}"


@pytest.mark.parametrize("path", sorted(TABLES))
def test_table_rows_are_the_specs_rows_with_their_counts(path: str) -> None:
    rows = spec_rows(path)
    assert set(TABLES[path]) == set(rows), "docs/seeds.md and the spec list different rows"
    counts = {name: trainable_params(config) for name, config in rows.items()}
    assert counts == TABLES[path]


RULES = {"best_epoch": "best", "final_epoch": "final", "validation_chosen": "val-chosen"}
TOP1_CELLS = doc_cells(4)  # the "seed top-1 (%)" column


@pytest.mark.parametrize("path", sorted(TABLES))
def test_every_row_carries_the_seeds_number_as_the_doc_shows_it(path: str) -> None:
    reported = load_spec(ROOT / path).reported
    assert reported is not None, f"{path} has no reported section"
    assert set(reported.rows) == set(spec_rows(path)), "reported rows and the spec's rows differ"
    shown = {row: ", ".join(f"{value:.2f} {RULES[rule]}" for rule, value in numbers.numbers().items())
             for row, numbers in reported.rows.items()}
    assert shown == TOP1_CELLS[path]