"""Pretrained weights offline: a study missing one is refused before Ray; import or prefetch fixes it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest
import timm
import torch
import yaml
from click.testing import CliRunner

import models
from orchestrator import weights
from orchestrator.cli import main
from orchestrator.designs import get_design
from orchestrator.study import load_spec

WEIGHTS = "test_resnet.r160_in1k"  # timm's smallest pretrained ResNet (a test model, 0.5 MB)


class Started(Exception):
    """What the patched sweep raises: the CLI got past every check and would start Ray."""


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network, empty caches and an empty weights store under ``tmp_path``."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    monkeypatch.setenv(models.WEIGHTS_ENV, str(tmp_path / "weights"))
    return tmp_path


@pytest.fixture
def study(offline: Path) -> Path:
    spec = {"name": "pretrained_rows", "data": {"dataset": "digits", "augment": "none"},
            "model": {"name": "timm/test_resnet"}, "train": {"epochs": 1},
            "search": {"kind": "variants", "variants": {"scratch": {}, "finetuned": {"model.pretrained": True}},
                       "repeats": 1},
            "tracking": {"uri": f"sqlite:///{offline / 'mlflow.db'}"}}
    path = offline / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def saved_weights(tmp_path: Path) -> Path:
    """A small timm model's weights, saved as a user would bring them on a stick."""
    torch.manual_seed(0)
    path = tmp_path / "test_resnet.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), path)
    return path


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def run_sweep(spec, **kwargs):
        calls.append(spec.name)
        raise Started("past every check")

    monkeypatch.setattr("orchestrator.run.sweep.run_sweep", run_sweep)
    return calls


def test_missing_weights_refuse_the_study_then_an_import_lets_it_start(
        study: Path, saved_weights: Path, started: list[str], offline: Path) -> None:
    refused = CliRunner().invoke(main, ["sweep", str(study)])
    assert refused.exit_code == 2, refused.output
    assert f"row finetuned needs the pretrained weights {WEIGHTS}" in refused.output
    assert f"orchestrate weights prefetch {study}" in refused.output
    assert f"orchestrate weights import {WEIGHTS} FILE" in refused.output
    assert started == [] and not (offline / "mlflow.db").exists()

    imported = CliRunner().invoke(main, ["weights", "import", WEIGHTS, str(saved_weights)])
    assert imported.exit_code == 0, imported.output
    digest = hashlib.sha256(saved_weights.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in imported.output

    again = CliRunner().invoke(main, ["sweep", str(study)])
    assert started == ["pretrained_rows"], again.output


def test_a_model_loads_the_imported_file_without_network(offline: Path, saved_weights: Path) -> None:
    weights.import_weights("test_resnet", saved_weights)  # no tag: timm's default weights of the model
    model = models.create_model("timm/test_resnet", pretrained=True, num_classes=10)
    saved = torch.load(saved_weights)
    assert torch.equal(model.state_dict()["conv1.0.weight"], saved["conv1.0.weight"])
    assert models.pretrained_normalization(model) is not None


def test_a_file_of_other_weights_is_refused(offline: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save(timm.create_model("test_efficientnet").state_dict(), other)
    result = CliRunner().invoke(main, ["weights", "import", WEIGHTS, str(other)])
    assert result.exit_code == 2 and f"not weights of {WEIGHTS}" in result.output
    assert models.stored_file(WEIGHTS) is None


def test_a_file_that_is_no_checkpoint_is_refused_in_the_commands_words(offline: Path, tmp_path: Path) -> None:
    """torch.load's own message for a text file spoke of weights_only and pickle globals."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not weights\n")
    result = CliRunner().invoke(main, ["weights", "import", WEIGHTS, str(notes)])
    assert result.exit_code == 2 and result.output == (
        f"error: {notes}: not a checkpoint; allowed: a state dict saved by torch.save (.pth, .pt, .bin) or a "
        "safetensors file\n")
    assert models.stored_file(WEIGHTS) is None


def test_prefetch_fetches_each_missing_weight_once_and_records_its_checksum(
        study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real download path, with the Hub client answering from a local file."""
    from safetensors.torch import load_file, save_file

    published = tmp_path / "published.safetensors"
    save_file(timm.create_model("test_resnet").state_dict(), str(published))
    asked: list[tuple[str, str]] = []

    def hf_hub_download(repo_id: str, filename: str, *, local_dir: Path) -> str:
        asked.append((repo_id, filename))
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        return shutil.copy(published, Path(local_dir) / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    first = CliRunner().invoke(main, ["weights", "prefetch", str(study)])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(main, ["weights", "prefetch", str(study)])
    assert asked == [(f"timm/{WEIGHTS}", "model.safetensors")] and "already stored" in second.output
    entry = json.loads((models.weights_dir() / "manifest.json").read_text())[WEIGHTS]
    assert entry["sha256"] == hashlib.sha256(published.read_bytes()).hexdigest() and entry["sha256"] in first.output
    assert entry["source"] == f"hf://timm/{WEIGHTS}/model.safetensors"
    model = models.create_model("timm/test_resnet", pretrained=True, num_classes=10)  # offline, from the store
    assert torch.equal(model.state_dict()["conv1.0.weight"], load_file(str(published))["conv1.0.weight"])


def test_a_failed_download_says_what_to_do_and_leaves_nothing(study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: object, **kwargs: object) -> str:
        raise OSError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    result = CliRunner().invoke(main, ["weights", "prefetch", str(study)])
    assert result.exit_code == 1
    assert f"{WEIGHTS}: could not download the weights (Name or service not known)" in result.output
    assert f"orchestrate weights import {WEIGHTS} FILE" in result.output
    assert not (models.weights_dir() / WEIGHTS).exists() and models.stored_file(WEIGHTS) is None


@pytest.mark.parametrize("spec, needed", [
    ("studies/cifar10_transfer_learning.yaml", {
        "resnet50": ["resnet50.tv_in1k"], "resnet_attention": ["resnet50.tv_in1k"],
        "resnet50_finetune_all": ["resnet50.tv_in1k"], "resnet_attention_finetune_all": ["resnet50.tv_in1k"]}),
    ("studies/cifar100_backbone_comparison.yaml", {
        "convnext_tiny_timm": ["convnext_tiny.in12k_ft_in1k"], "resnest50d": ["resnest50d.in1k"],
        "cspresnet50": ["cspresnet50.ra_in1k"], "coatnet_0": ["coatnet_0_rw_224.sw_in1k"],
        "mlp_mixer_b16": ["mixer_b16_224.goog_in21k_ft_in1k"]}),
])
def test_what_prefetch_would_fetch_for_the_seed_studies(spec: str, needed: dict[str, list[str]]) -> None:
    loaded = load_spec(spec)
    assert weights.study_weights(loaded, get_design(loaded.search.kind).expand(loaded)) == needed
