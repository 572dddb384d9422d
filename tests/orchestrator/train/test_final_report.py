"""The final report costs no second pass over its split and no copy of the model, and says the
same as a report computed from scratch."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch

from orchestrator.data import load_dataset
from orchestrator.train import Trainer, trainer as trainer_module

CONFIG = {
    "data": {"dataset": "synthetic", "batch_size": 32,
             "options": {"num_classes": 4, "train_size": 128, "val_size": 64, "image_size": 16}},
    "model": {"name": "resnet20"},
    "train": {"epochs": 2, "device": "cpu", "optimizer": {"name": "sgd", "lr": 0.05}},
}
HELD_OUT = {**CONFIG, "data": {**CONFIG["data"], "val_split": 0.25}}  # the report reads the test split


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic", **CONFIG["data"]["options"])


@pytest.mark.parametrize("config", [CONFIG, HELD_OUT], ids=["validation split", "test split"])
def test_final_report_reuses_the_last_evaluation_and_matches_a_fresh_pass(dataset, config, monkeypatch) -> None:
    trainer = Trainer.from_config(config, seed=0, dataset=dataset)
    trainer.fit()
    state = trainer.state_dict()

    def no_second_pass(*args, **kwargs):
        raise AssertionError("the final report ran its split again")

    def no_copy(*args, **kwargs):
        raise AssertionError("the final report copied the model")

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "predicted_classes", no_second_pass)
        patch.setattr(trainer_module, "evaluate", no_second_pass)
        patch.setattr(copy, "deepcopy", no_copy)
        reused = trainer.final_report()
    restored = Trainer.from_config(config, seed=0, dataset=dataset)
    restored.load_state_dict(state)  # weights from a checkpoint: evaluated afresh
    fresh = restored.final_report()
    pd.testing.assert_frame_equal(reused.confusion, fresh.confusion)
    assert reused.summary() == fresh.summary() and reused.macs > 0
    assert reused.per_class["images"].sum() == len((trainer.test_loader or trainer.val_loader).labels)


def test_a_checkpoint_restore_forgets_predictions_of_other_weights(dataset) -> None:
    trainer = Trainer.from_config(CONFIG, seed=0, dataset=dataset)
    trainer.run_epoch()
    assert trainer.report_predictions is not None
    trainer.load_state_dict(Trainer.from_config(CONFIG, seed=1, dataset=dataset).state_dict())
    assert trainer.report_predictions is None


def test_the_kept_predictions_are_the_report_splits_on_the_cpu(dataset) -> None:
    trainer = Trainer.from_config(HELD_OUT, seed=0, dataset=dataset)
    trainer.run_epoch()
    labels, classes = trainer.report_predictions
    assert torch.equal(labels, trainer.test_loader.labels.cpu()) and classes.device.type == "cpu"
    assert classes.shape == labels.shape


def test_the_mac_count_is_made_once_per_architecture_and_input(dataset, monkeypatch) -> None:
    from orchestrator import profile

    monkeypatch.setattr(profile, "_COUNTED", {})
    counted = []
    real = profile.profile_model
    monkeypatch.setattr(profile, "profile_model", lambda *args: counted.append(args[1:]) or real(*args))
    eca = {**CONFIG, "model": {"name": "resnet20", "attention": "eca", "attention_kwargs": {"k_size": 5}}}
    reports = []
    for config, seed in ((CONFIG, 0), (CONFIG, 1), (eca, 0)):
        trainer = Trainer.from_config(config, seed=seed, dataset=dataset)
        trainer.run_epoch()
        reports.append(trainer.final_report())
    assert len(counted) == 2  # the second seed's architecture was counted already; ECA's was not
    assert reports[0].macs == reports[1].macs < reports[2].macs
    fresh = Trainer.from_config(eca, seed=0, dataset=dataset)
    assert reports[2].macs == real(fresh.model, 16, 3)[1]
