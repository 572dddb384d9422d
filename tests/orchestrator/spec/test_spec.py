from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec.loading import SEARCH_SPACES_DIR, apply_override
from orchestrator.study import load_spec, parse_spec

SPEC_FILES = sorted(SEARCH_SPACES_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(SEARCH_SPACES_DIR)))
def test_every_shipped_spec_loads(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name


def test_relative_path_is_resolved_under_search_spaces() -> None:
    assert load_spec("ablations/eca_ksize.yaml").name == "eca_ksize"


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "my_study.yaml"
    path.write_text("model: {name: resnet20}\n")
    assert load_spec(path).name == "my_study"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nmodel: {name: resnt20}\n", "model.name: unknown model 'resnt20'; did you mean resnet20"),
        ("name: x\nmodel: {name: resnet20, depth: 3}\n", "model.depth: model resnet20 has no option 'depth'"),
        ("name: x\ntrain: {epochs: 0}\n", "train.epochs: Input should be greater than or equal to 1"),
        ("name: x\ntrain: {optimizer: {name: sgdd}}\n", "train.optimizer.name: unknown optimizer 'sgdd'; did you mean sgd?"),
        ("name: x\ntrian: {}\n", "trian: unknown key (allowed: data, model, train, name, search, resources, tracking, reported)"),
        ("name: x\ndata: {dataset: cifar1000}\n", "data.dataset: unknown dataset 'cifar1000'"),
        ("name: x\nsearch: {kind: random}\n", "search.kind: unknown kind 'random' (allowed: ablation, grid, optuna, variants)"),
        ("name: x\nsearch: {metric: val/acc}\n", "search.metric: unknown metric 'val/acc'"),
        ("name: x\nsearch: {factors: {model.name: []}}\n", "search.factors: factor 'model.name' has no levels"),
        ("name: x\nmodel: {name: resnet20, attention: eca, attention_kwargs: {k_size: 4}}\n",
         "model: resnet20 cannot be built with these options: eca k_size must be a positive odd integer"),
        ("name: x\nresources: {gpus_per_trial: -1}\n", "resources.gpus_per_trial: allowed: a GPU share >= 0 (e.g. 0.25, 1, 2) or auto"),
        ("name: x\nmodel: [1, 2]\n", "model: Input should be a valid dictionary"),
        ("name: x\nmodel: {name: resnet20\n", "invalid YAML"),
        ("- a\n- b\n", "a spec is a mapping"),
        # A key that takes one value or a list: pydantic's name of the failing branch
        # ("literal['max','min']") is no key, and a bad list item is named by its index.
        ("name: x\nsearch: {mode: maximize}\n", "search.mode: Input should be 'max' or 'min' (got 'maximize')"),
        ("name: x\nsearch: {kind: optuna, space: {train.epochs: {int: [1, 3]}}, metric: [val/top1, val/loss], "
         "mode: [max, minn]}\n", "search.mode.1: Input should be 'max' or 'min' (got 'minn')"),
        ("name: x\nsearch: {metric: [val/top1, 3]}\n", "search.metric.1: Input should be a valid string (got 3)"),
    ],
)
def test_invalid_spec_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text))
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_overrides_parse_yaml_scalars_and_nested_paths() -> None:
    raw: dict = {"train": {"epochs": 10}}
    for assignment in ["train.epochs=3", "train.optimizer.lr=1e-2", "model.attention=null",
                       "search.factors.model.attention_kwargs.k_size=[3, 5]"]:
        apply_override(raw, assignment)
    assert raw["train"] == {"epochs": 3, "optimizer": {"lr": 0.01}}
    assert raw["model"] == {"attention": None}
    assert raw["search"]["factors"] == {"model.attention_kwargs.k_size": [3, 5]}


def test_override_errors_are_spec_errors() -> None:
    with pytest.raises(SpecError, match="expected key=value"):
        apply_override({}, "train.epochs")
    with pytest.raises(SpecError, match="train is not a mapping"):
        apply_override({"train": 3}, "train.epochs=1")


def test_overrides_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\n")
    assert load_spec(path, ["train.epochs=7"]).train.epochs == 7
    with pytest.raises(SpecError, match="train.epochs"):
        load_spec(path, ["train.epochs=-1"])


def test_optuna_specs_need_a_space() -> None:
    with pytest.raises(SpecError, match="kind optuna needs search.space"):
        parse_spec({"name": "x", "search": {"kind": "optuna"}})


PBT = {"name": "p", "train": {"epochs": 6},
       "search": {"kind": "grid", "repeats": 4,
                  "scheduler": {"name": "pbt", "mutations": {"train.optimizer.lr": {"loguniform": [1e-4, 0.5]}}}}}


def pbt_spec(**changes) -> dict:
    raw = {**PBT, "search": {**PBT["search"], "scheduler": dict(PBT["search"]["scheduler"])}}
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return raw


def test_a_pbt_population_validates() -> None:
    spec = parse_spec(pbt_spec(search__factors={"train.optimizer.lr": [0.01, 0.1]}))
    assert spec.search.scheduler.mutations == {"train.optimizer.lr": {"loguniform": [1e-4, 0.5]}}


@pytest.mark.parametrize(("changes", "expected"), [
    ({"search__kind": "optuna", "search__space": {"train.optimizer.lr": {"loguniform": [1e-3, 1e-1]}},
      "search__repeats": 1}, "search.scheduler: pbt evolves a fixed population; use kind: grid"),
    ({"search__factors": {"model.name": ["resnet20", "resnet32"]}},
     "search.factors.model.name: with pbt, factors may only set the starting values of mutated keys"),
    ({"search__factors": {"train.optimizer.lr": [0, 0.1]}},
     "search.factors.train.optimizer.lr: pbt starting values must be numbers above 0"),
    ({"search__repeats": 1}, "search.repeats: pbt needs a population of at least 2"),
    ({"search__scheduler__mutations": {"train.label_smoothing": {"uniform": [0, 0.2]}}},
     "search.scheduler.mutations.train.label_smoothing: pbt mutates only train.optimizer.lr, "
     "train.optimizer.weight_decay"),
    ({"search__scheduler__mutations": {"train.optimizer.lr": {"uniform": [0, 0.2]}}},
     "search.scheduler.mutations.train.optimizer.lr: pbt values must be numbers above 0"),
    ({"search__scheduler__mutations": {"train.optimizer.lr": {"normal": [0, 1]}}},
     "search.scheduler.mutations.train.optimizer.lr: expected one of {loguniform: ...}, {uniform: ...}, {choice: ...}"),
    ({"search__scheduler__mutations": {}}, "search.scheduler.mutations: pbt needs mutations"),
    ({"search__scheduler__perturbation_interval": 6},
     "search.scheduler.perturbation_interval: pbt must perturb before the last epoch"),
    ({"search__scheduler__perturbation_interval": 3, "resources": {"checkpoint_every": 2}},
     "search.scheduler.perturbation_interval: pbt exploits checkpoints: use a multiple of resources.checkpoint_every"),
    ({"search__scheduler__mutations": {"train.optimizer.weight_decay": {"loguniform": [1e-5, 1e-3]}},
      "train": {"epochs": 6, "optimizer": {"name": "sgd", "lr": 0.1, "weight_decay": 0}}},
     "train.optimizer.weight_decay: pbt rescales this value, so it must start above 0"),
    ({"search__scheduler__name": "asha"}, "search.scheduler.mutations: not an option of scheduler asha (an option of scheduler: pbt; allowed: name, "),
])
def test_pbt_errors_name_the_key(changes: dict, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(pbt_spec(**changes))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_yaml_reads_exponents_without_a_dot_as_numbers(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "name: x\ntrain: {optimizer: {name: sgd, lr: 1e-2}}\nsearch: {kind: optuna, "
                                     "space: {train.optimizer.weight_decay: {loguniform: [1e-5, 1E-3]}}}\n"))
    assert spec.train.optimizer.lr == 0.01
    assert spec.search.space["train.optimizer.weight_decay"] == {"loguniform": [1e-5, 1e-3]}
