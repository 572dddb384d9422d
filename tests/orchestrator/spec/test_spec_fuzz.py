"""Property test: every invalid spec is refused with exit 2, one line naming the key, no store."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.cli import main

VALID = {
    "name": "fuzz",
    "data": {"dataset": "synthetic", "batch_size": 32, "options": {"num_classes": 4}},
    "model": {"name": "resnet20", "attention": "eca", "attention_kwargs": {"k_size": 3}},
    "train": {"epochs": 2, "optimizer": {"name": "sgd", "lr": 0.1}, "scheduler": {"name": "cosine"}},
    "search": {"kind": "ablation", "baseline": {"model.attention": None},
               "factors": {"model.attention_kwargs.k_size": [3, 5]}, "repeats": 2},
    "resources": {"cpus_per_trial": 1},
}
# Sections that take only the keys the schema names (model and optimizer take free options,
# which are checked against the builder's signature and so refused too).
SECTIONS = ["", "data", "model", "train", "train.optimizer", "train.scheduler", "search", "resources"]
NUMBERS = ["data.batch_size", "train.epochs", "train.optimizer.lr", "search.repeats", "resources.cpus_per_trial"]
NAMES = {"model.name": "model", "data.dataset": "dataset", "train.optimizer.name": "optimizer",
         "train.scheduler.name": "scheduler", "search.kind": "kind"}

identifiers = st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True)


def set_path(tree: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        tree = tree[part]
    tree[leaf] = value


@st.composite
def invalid_specs(draw) -> tuple[dict, str]:
    """A valid spec with one mistake, and the key path the error must name."""
    spec = yaml.safe_load(yaml.safe_dump(VALID))
    mistake = draw(st.sampled_from(["unknown_key", "wrong_type", "out_of_range", "unknown_name", "no_levels"]))
    if mistake == "unknown_key":
        section = draw(st.sampled_from(SECTIONS))
        node = spec
        for part in filter(None, section.split(".")):
            node = node[part]
        key = draw(identifiers.filter(lambda k: k not in node and k not in {"name", "options", "lr"}))
        node[key] = draw(st.integers())
        return spec, f"{section}.{key}".lstrip(".")
    if mistake in ("wrong_type", "out_of_range"):
        path = draw(st.sampled_from(NUMBERS))
        bad = (draw(st.sampled_from(["many", [1, 2], {"a": 1}])) if mistake == "wrong_type"
               else draw(st.integers(max_value=-1) | st.floats(max_value=-1e-3, allow_nan=False)))
        set_path(spec, path, bad)
        return spec, path
    if mistake == "unknown_name":
        path = draw(st.sampled_from(sorted(NAMES)))
        set_path(spec, path, draw(identifiers.map(lambda s: f"zz{s}")))
        return spec, path
    spec["search"]["factors"]["model.attention_kwargs.k_size"] = []
    return spec, "search"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_specs())
def test_invalid_specs_exit_2_with_one_line_naming_the_key(case: tuple[dict, str]) -> None:
    spec, path = case
    with tempfile.TemporaryDirectory() as folder:
        spec_file = Path(folder) / "spec.yaml"
        spec_file.write_text(yaml.safe_dump(spec))
        store = Path(folder) / "mlflow.db"
        env = {"MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
        result = CliRunner(env=env).invoke(main, ["sweep", str(spec_file)])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2, result.output
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert f"{path}" in lines[0].split(": ")[1] or lines[0].startswith(f"error: {path}"), (path, lines[0])
        assert not store.exists() and not (Path(folder) / "ray_results").exists()
        assert os.listdir(folder) == ["spec.yaml"]
