"""Fused members on CUDA: mixed precision (bf16, and fp16 with a grad scaler per member) trains
every member apart; run with ``pytest -m gpu`` on a GPU machine (skipped without CUDA)."""

from __future__ import annotations

import math

import pytest

from orchestrator.data import load_dataset
from orchestrator.train import Trainer
from orchestrator.train.fused import FusedTrainer

pytestmark = pytest.mark.gpu

DATA = {"dataset": "synthetic", "batch_size": 64,
        "options": {"num_classes": 10, "train_size": 1024, "val_size": 256, "image_size": 32}}


def config(lr: float, amp: str) -> dict:
    return {"data": DATA, "model": {"name": "resnet20"},
            "train": {"epochs": 2, "device": "cuda", "amp": amp, "channels_last": True,
                      "optimizer": {"name": "sgd", "lr": lr, "momentum": 0.9}, "scheduler": {"name": "cosine"}}}


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_fused_members_on_cuda_match_their_lone_trials_loosely(amp: str) -> None:
    dataset = load_dataset("synthetic", **DATA["options"])
    configs = [config(lr, amp) for lr in (0.05, 0.02, 0.1, 0.01)]
    lone = [Trainer.from_config(c, seed=k, dataset=dataset).fit() for k, c in enumerate(configs)]
    fused = FusedTrainer.from_configs(configs, seeds=range(4), dataset=dataset)
    history = fused.fit()
    assert fused.failures == {}
    for k in range(4):
        assert all(math.isfinite(m["train/loss"]) for m in history[k])
        # CUDA kernels and reduced precision are not bit-stable: the same run within a few percent.
        assert history[k][-1]["train/loss"] == pytest.approx(lone[k][-1]["train/loss"], rel=0.05)
        assert fused.members[k].final_report().epoch == 2
    assert len({round(history[k][-1]["train/loss"], 3) for k in range(4)}) == 4

