from __future__ import annotations

import pytest
import torch

from orchestrator.data import load_dataset
from orchestrator.train import NonFiniteLossError, Trainer
from orchestrator.train.trainer import EPOCH_METRICS

CONFIG = {
    "data": {"dataset": "synthetic", "batch_size": 32,
             "options": {"num_classes": 4, "train_size": 256, "val_size": 64, "image_size": 16}},
    "model": {"name": "resnet20"},
    # Pinned to CPU: these tests compare runs bit for bit, which only CPU kernels promise.
    "train": {"epochs": 3, "device": "cpu", "optimizer": {"name": "sgd", "lr": 0.05}, "scheduler": {"name": "cosine"}},
}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic", **CONFIG["data"]["options"])


def test_epoch_metrics_have_the_documented_keys(dataset) -> None:
    seen: list[dict[str, float]] = []
    trainer = Trainer.from_config(CONFIG, seed=0, dataset=dataset, callbacks=[seen.append])
    metrics = trainer.run_epoch()
    optional = {"val/ema_loss", "val/ema_top1", "val/ema_top5", "pretrain/loss",  # features left off
                "test/loss", "test/top1", "test/top5", "test/top1_at_best"}
    assert tuple(metrics) == tuple(k for k in EPOCH_METRICS if k not in optional) and seen == [metrics]
    assert metrics["epoch"] == 1 and 0 <= metrics["val/top1"] <= metrics["val/top5"] <= 100


def test_training_learns_the_synthetic_task(dataset) -> None:
    history = Trainer.from_config(CONFIG, seed=0, dataset=dataset).fit()
    assert history[-1]["val/best_top1"] > 50  # chance is 25%
    assert history[-1]["train/loss"] < history[0]["train/loss"]


def test_same_seed_gives_identical_metrics_and_another_seed_does_not(dataset, untimed) -> None:
    first = untimed(Trainer.from_config(CONFIG, seed=1, dataset=dataset).fit())
    again = untimed(Trainer.from_config(CONFIG, seed=1, dataset=dataset).fit())
    other = untimed(Trainer.from_config(CONFIG, seed=2, dataset=dataset).fit())
    assert first == again
    assert first != other


def test_resuming_from_a_checkpoint_continues_bit_for_bit(dataset, untimed, resumed_history) -> None:
    straight = untimed(Trainer.from_config(CONFIG, seed=0, dataset=dataset).fit())
    assert resumed_history(lambda: Trainer.from_config(CONFIG, seed=0, dataset=dataset)) == straight[1:]


def test_warmup_then_cosine_learning_rates(dataset) -> None:
    config = {**CONFIG, "train": {**CONFIG["train"], "epochs": 4,
                                  "scheduler": {"name": "cosine", "warmup_epochs": 2}}}
    lrs = [m["opt/lr"] for m in Trainer.from_config(config, seed=0, dataset=dataset).fit()]
    assert lrs[0] == pytest.approx(0.05 * 0.01)
    assert lrs[1] == pytest.approx(0.05 * (0.01 + 0.99 / 2))
    assert lrs[2] == pytest.approx(0.05) and lrs[3] == pytest.approx(0.05 * 0.5)


def test_a_diverging_run_stops_with_a_clear_error(dataset) -> None:
    config = {**CONFIG, "train": {**CONFIG["train"], "optimizer": {"name": "sgd", "lr": 1e6}}}
    with pytest.raises(NonFiniteLossError, match="diverged"):
        Trainer.from_config(config, seed=0, dataset=dataset).fit()


def test_label_smoothing_is_applied_to_training_loss_only(dataset) -> None:
    config = {**CONFIG, "train": {**CONFIG["train"], "label_smoothing": 0.1}}
    trainer = Trainer.from_config(config, seed=0, dataset=dataset)
    assert trainer.criterion.label_smoothing == 0.1 and trainer.eval_criterion.label_smoothing == 0.0
    assert isinstance(trainer.model(torch.zeros(1, 3, 16, 16)), torch.Tensor)


def test_retune_moves_lr_and_weight_decay_without_restarting_the_schedule(dataset) -> None:
    """PBT's explore step: a checkpoint trained at one LR/WD continues at another from where it is."""
    def recipe(lr: float, weight_decay: float) -> dict:
        train = {**CONFIG["train"], "epochs": 3, "scheduler": {"name": "cosine", "warmup_epochs": 1},
                 "optimizer": {"name": "sgd", "lr": lr, "weight_decay": weight_decay, "no_decay_norm_bias": True}}
        return {**CONFIG, "train": train}

    trained = Trainer.from_config(recipe(0.05, 5e-4), seed=0, dataset=dataset)
    trained.run_epoch()
    moved = Trainer.from_config(recipe(0.1, 1e-3), seed=0, dataset=dataset)
    moved.load_state_dict(trained.state_dict())
    assert moved.hyperparameters == {"lr": 0.05, "weight_decay": 5e-4}  # what the checkpoint trained with
    moved.retune(lr=0.1, weight_decay=1e-3)
    assert sorted({group["weight_decay"] for group in moved.optimizer.param_groups}) == pytest.approx([0.0, 1e-3])

    fresh = Trainer.from_config(recipe(0.1, 1e-3), seed=0, dataset=dataset)
    fresh.run_epoch()
    after, expected = moved.run_epoch(), fresh.run_epoch()
    assert after["opt/lr"] == pytest.approx(expected["opt/lr"]) == pytest.approx(0.1)
    assert (after["opt/base_lr"], after["opt/weight_decay"]) == (0.1, 1e-3)
    again = Trainer.from_config(recipe(0.05, 5e-4), seed=0, dataset=dataset)
    again.load_state_dict(moved.state_dict())
    assert again.hyperparameters == {"lr": 0.1, "weight_decay": 1e-3}


def test_a_held_out_validation_split_chooses_the_epoch_and_the_test_split_is_reported(dataset) -> None:
    # At a constant LR of 0.05 validation accuracy peaks at epoch 4 and falls at epoch 5, where the
    # test accuracy differs from epoch 4's: only then does "test accuracy at the chosen epoch"
    # differ from "test accuracy at the latest epoch", so the precondition below is asserted.
    config = {**CONFIG, "data": {**CONFIG["data"], "val_split": 0.25},
              "train": {**CONFIG["train"], "epochs": 5, "optimizer": {"name": "sgd", "lr": 0.05},
                        "scheduler": {"name": "constant"}}}
    trainer = Trainer.from_config(config, seed=0, dataset=dataset)
    assert len(trainer.val_loader.labels) == 64 and len(trainer.train_loader.labels) == 192  # of the 256
    assert torch.equal(trainer.test_loader.labels, dataset.val_labels)  # the dataset's own validation split
    history = trainer.fit()
    chosen = [max(history[:seen], key=lambda epoch: epoch["val/top1"]) for seen in range(1, len(history) + 1)]
    assert any(best["epoch"] < latest["epoch"] and best["test/top1"] != latest["test/top1"]
               for best, latest in zip(chosen, history, strict=True)), "precondition: an earlier epoch is chosen"
    for best, latest in zip(chosen, history, strict=True):  # max keeps the first best, as the trainer does
        assert latest["val/best_epoch"] == best["epoch"]
        assert latest["test/top1_at_best"] == best["test/top1"]
    assert trainer.final_report().per_class["images"].sum() == len(dataset.val_labels)  # measured on test
