"""The trainer with the full recipe switched on: CPU determinism and bit-exact resume, EMA
metrics, early stopping, reconstruction pre-training on a labelled fraction, transfer-learning
geometry, stochastic depth pass-through, and the end-of-training report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from orchestrator.data import load_dataset
from orchestrator.train.config import TrialConfig
from orchestrator.train import Trainer
from orchestrator.train.setup import build_loaders, input_geometry, select_data

DATA = {"dataset": "synthetic", "batch_size": 16, "eval_batch_size": 32,
        "options": {"num_classes": 4, "train_size": 64, "val_size": 32, "image_size": 8}}
FULL_RECIPE = {
    "data": {**DATA, "augment": [{"name": "random_crop", "padding": 1}, "hflip",
                                 {"name": "randaugment", "num_ops": 1}], "augment_mode": "alternate"},
    "model": {"name": "resnet20"},
    "train": {
        "epochs": 3, "device": "cpu",  # compared bit for bit: only CPU kernels promise that
        "label_smoothing": 0.1, "grad_clip": 5.0, "channels_last": True,
        "optimizer": {"name": "sgd", "lr": 0.05, "no_decay_norm_bias": True},
        "scheduler": {"name": "onecycle"},
        "mixup": {"mixup_alpha": 0.4, "cutmix_alpha": 1.0},
        "ema": {"decay": 0.9},
        "early_stopping": {"patience": 10},
    },
}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic", **DATA["options"])


def test_full_recipe_is_deterministic_and_resumes_bit_for_bit(dataset, untimed, resumed_history) -> None:
    def build() -> Trainer:
        return Trainer.from_config(FULL_RECIPE, seed=3, dataset=dataset)

    straight = untimed(build().fit())
    assert straight == untimed(build().fit())
    assert {"val/ema_top1", "val/ema_loss", "train/top5"} <= set(straight[0])
    assert straight[0]["val/ema_loss"] != straight[0]["val/loss"]
    assert resumed_history(build) == straight[1:]


def test_per_batch_schedule_moves_within_epochs(dataset) -> None:
    trainer = Trainer.from_config(FULL_RECIPE, seed=0, dataset=dataset)
    history = trainer.fit()
    assert history[0]["opt/lr"] == pytest.approx(0.05 / 25)  # one-cycle's start
    assert history[1]["opt/lr"] > history[0]["opt/lr"] and trainer.global_step == 3 * 4


def test_early_stopping_ends_training_and_is_reported(dataset) -> None:
    config = {**FULL_RECIPE, "train": {"epochs": 6, "early_stopping": {"patience": 1, "min_delta": 100}}}
    trainer = Trainer.from_config(config, seed=0, dataset=dataset)
    assert len(trainer.fit()) == 2 and trainer.done and trainer.stopped_early
    assert trainer.final_report().stopped_early


class TinyAutoencoder(nn.Module):
    """An encoder with a classifier head and a decoder: the interface of ``autoencoder_tin``."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.decoder = nn.ConvTranspose2d(8, 3, 2, stride=2)
        self.head = nn.Linear(8, classes)

    def get_classifier(self) -> nn.Module:
        return self.head

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=(2, 3)))


def semi_supervised(dataset) -> Trainer:
    config = TrialConfig.model_validate({
        "data": {**DATA, "label_fraction": 0.25, "augment": "standard", "augment_mode": "concat"},
        "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 1e-3},
                  "pretrain": {"epochs": 1, "mask_holes": 2, "mask_size": 4,
                               "scheduler": {"name": "plateau", "metric": "pretrain/loss"}}},
    })
    everything, labelled = select_data(config.data, dataset)
    torch.manual_seed(0)
    model = TinyAutoencoder()
    data = build_loaders(config, model, torch.device("cpu"), 0, everything, labelled)
    return Trainer(model, data.train, data.val, config.train, device=torch.device("cpu"),
                   pretrain_loader=data.pretrain, class_names=data.class_names)


def test_reconstruction_pretraining_then_fine_tuning_on_the_labelled_fraction(dataset, untimed, resumed_history) -> None:
    trainer = semi_supervised(dataset)
    assert trainer.pretrain_loader.num_images == 2 * 64 and trainer.train_loader.num_images == 2 * 16
    assert trainer.total_epochs == 3
    history = trainer.fit()
    assert "pretrain/loss" in history[0] and "train/loss" not in history[0]
    assert "train/loss" in history[1] and "pretrain/loss" not in history[2]
    # resumed across the change of stage, from pre-training to classification
    assert resumed_history(lambda: semi_supervised(dataset)) == untimed(history[1:])


def test_pretraining_needs_a_model_that_reconstructs(dataset) -> None:
    config = {**FULL_RECIPE, "train": {"epochs": 1, "pretrain": {"epochs": 1}}}
    with pytest.raises(ValueError, match="has no reconstruct"):
        Trainer.from_config(config, seed=0, dataset=dataset)


def test_pretrained_weights_choose_input_size_and_normalisation(dataset) -> None:
    config = TrialConfig.model_validate({"data": DATA, "model": {"name": "timm/test_convnext", "pretrained": True}})
    import timm

    model = timm.create_model("test_convnext", num_classes=4)  # the architecture, without downloading
    assert input_geometry(config, model, dataset) == (160, [0.5] * 3, [0.5] * 3)  # its weights' own
    plain = nn.Conv2d(3, 4, 1)  # pretrained weights that say nothing: ImageNet's size and statistics
    assert input_geometry(config, plain, dataset) == (224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    # From scratch (a model that runs on the dataset's 8 px images; the geometry is of the config).
    scratch = TrialConfig.model_validate({"data": DATA, "model": {"name": "resnet20"}})
    assert input_geometry(scratch, model, dataset) == (None, *dataset.channel_stats())
    forced = TrialConfig.model_validate({"data": {**DATA, "normalize": "imagenet", "image_size": 12},
                                         "model": {"name": "resnet20"}})
    assert input_geometry(forced, model, dataset)[0] == 12


def test_drop_path_and_backbone_learning_rate_reach_a_timm_model(dataset) -> None:
    config = {"data": {**DATA, "image_size": 32}, "model": {"name": "timm/test_convnext", "drop_path_rate": 0.2},
              "train": {"optimizer": {"name": "adamw", "lr": 1e-3, "backbone_lr_scale": 0.1}}}
    trainer = Trainer.from_config(config, seed=0, dataset=dataset)
    rates = [m.drop_prob for m in trainer.model.modules() if type(m).__name__ == "DropPath"]
    assert rates and max(rates) == pytest.approx(0.2)
    assert sorted({round(g["lr"], 8) for g in trainer.optimizer.param_groups}) == [1e-4, 1e-3]


def test_final_report_tables_and_files(dataset, tmp_path: Path) -> None:
    trainer = Trainer.from_config({"data": DATA, "train": {"epochs": 1}}, seed=0, dataset=dataset)
    trainer.fit()
    report = trainer.final_report()
    assert report.per_class["images"].sum() == 32 and report.confusion.to_numpy().sum() == 32
    assert list(report.confusion.index) == dataset.class_names and report.macs > 0
    assert len(report.best_classes) == len(report.worst_classes) == 4
    assert report.summary()["final/params"] == report.params == trainer.params
    accuracy = (report.confusion.to_numpy().diagonal() / report.confusion.to_numpy().sum(axis=1)) * 100
    assert report.per_class["accuracy"].tolist() == pytest.approx(accuracy.tolist())
    names = {path.name for path in report.write(tmp_path / "report")}
    assert {"per_class_accuracy.csv", "confusion_matrix.csv", "confusion_matrix.png"} <= names
    assert all((tmp_path / "report" / name).stat().st_size > 0 for name in names)


@pytest.mark.slow
def test_compiled_model_trains_and_checkpoints_plain_weights(dataset) -> None:
    trainer = Trainer.from_config({"data": DATA, "train": {"epochs": 1, "compile": True}}, seed=0, dataset=dataset)
    trainer.fit()
    assert not any(key.startswith("_orig_mod") for key in trainer.state_dict()["model"])
