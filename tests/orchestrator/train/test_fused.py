"""Fused members train exactly as the same trials alone (within float tolerance), and apart."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from orchestrator.data import load_dataset
from orchestrator.train import Trainer
from orchestrator.train.fused import FusedTrainer

BASE = {
    "data": {"dataset": "synthetic", "batch_size": 32,
             "options": {"num_classes": 4, "train_size": 64, "val_size": 32, "image_size": 8}},
    "model": {"name": "resnet20"},
    "train": {"epochs": 2, "device": "cpu", "optimizer": {"name": "sgd", "lr": 0.05}, "scheduler": {"name": "cosine"}},
}
# Four trials that differ in every shape-free value the issue names, and in two each member owns
# outright: gradient clipping (tight enough to clip every step) and mixup (two members, so a
# shared numpy state would change what either one draws).
VARIED = [
    {"optimizer": {"name": "sgd", "lr": 0.02, "weight_decay": 5e-4, "momentum": 0.9}, "grad_clip": 0.05},
    {"optimizer": {"name": "sgd", "lr": 0.01, "weight_decay": 1e-3, "momentum": 0.5},
     "label_smoothing": 0.1, "mixup": {}},
    {"optimizer": {"name": "sgd", "lr": 0.03, "weight_decay": 0.0, "momentum": 0.0},
     "scheduler": {"name": "step", "step_size": 1, "gamma": 0.5}},
    {"optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05}, "label_smoothing": 0.2, "mixup": {}},
]
SEEDS = [0, 1, 2, 3]
# Fused convolutions are grouped ones: float sums in another order, so losses agree to 1e-3
# relative after a few steps, and an argmax between near-tied logits may flip one image (of 32);
# then which of two equal top-1 epochs is the best one may flip too, so that key is not compared.
TOLERANCE = dict(rel=1e-3, abs=1e-3)
TOP_K_TOLERANCE = dict(rel=0, abs=100 / 32 + 1e-6)
TIE_BROKEN = "val/best_epoch"


def configs() -> list[dict]:
    out = []
    for varied in VARIED:
        config = copy.deepcopy(BASE)
        config["train"].update(varied)
        out.append(config)
    return out


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic", **BASE["data"]["options"])


@pytest.fixture(scope="module")
def alone(dataset) -> list[list[dict[str, float]]]:
    return [untimed_history(Trainer.from_config(c, seed=s, dataset=dataset).fit()) for c, s in zip(configs(), SEEDS)]


def untimed_history(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in m.items() if not k.startswith("time/")} for m in history]


def close(fused: list[dict[str, float]], lone: list[dict[str, float]]) -> bool:
    return [list(m) for m in fused] == [list(m) for m in lone] and all(
        f[key] == pytest.approx(value, **(TOP_K_TOLERANCE if "top" in key else TOLERANCE))
        for f, m in zip(fused, lone) for key, value in m.items() if key != TIE_BROKEN)


def test_fused_members_match_the_same_trials_run_alone(dataset, alone) -> None:
    seen: list[list[dict[str, float]]] = [[] for _ in SEEDS]
    fused = FusedTrainer.from_configs(configs(), seeds=SEEDS, dataset=dataset,
                                      callbacks=[[record.append] for record in seen])
    history = fused.fit()
    assert fused.failures == {} and fused.done
    for k, lone in enumerate(alone):
        assert close(untimed_history(history[k]), lone), f"member {k} trained differently from its lone trial"
        assert untimed_history(seen[k]) == untimed_history(history[k])  # its own callbacks, its own metrics
    # The members really are different trials: no two share their metrics.
    finals = [h[-1]["train/loss"] for h in alone]
    assert len({round(value, 4) for value in finals}) == len(finals)


def test_a_member_that_diverges_fails_alone_and_the_others_go_on(dataset, alone) -> None:
    diverging = configs()[:2]
    diverging[1]["train"]["optimizer"] = {"name": "sgd", "lr": 1e30, "weight_decay": 0.0}
    fused = FusedTrainer.from_configs(diverging, seeds=SEEDS[:2], dataset=dataset)
    history = fused.fit()
    assert list(fused.failures) == [1] and "diverged" in fused.failures[1]
    assert history[1] == [] and fused.done
    assert close(untimed_history(history[0]), alone[0])


def test_each_member_resumes_from_its_own_checkpoint(dataset, alone) -> None:
    first = FusedTrainer.from_configs(configs()[:2], seeds=SEEDS[:2], dataset=dataset)
    first.run_epoch()
    states = [first.state_dict(k) for k in range(2)]
    assert all(state["model"][name].untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
               for state in states for name, tensor in state["model"].items())  # own copies, not the stack
    resumed = FusedTrainer.from_configs(configs()[:2], seeds=SEEDS[:2], dataset=dataset)
    resumed.load_state_dicts(states)
    history = resumed.fit()
    for k, lone in enumerate(alone[:2]):
        assert close(untimed_history(history[k]), lone[1:])
        assert resumed.members[k].final_report().epoch == 2


def test_a_member_with_fewer_epochs_leaves_the_stack_and_keeps_its_weights(dataset) -> None:
    short = configs()[:2]
    short[0]["train"]["epochs"] = 1
    fused = FusedTrainer.from_configs(short, seeds=SEEDS[:2], dataset=dataset)
    fused.run_epoch()
    assert fused.active == [1] and len(fused.stack) == 1
    kept = {name: tensor.clone() for name, tensor in fused.members[0].model.state_dict().items()}
    fused.run_epoch()
    after = fused.members[0].model.state_dict()
    assert all(torch.equal(kept[name], after[name]) for name in kept)
    assert math.isfinite(fused.members[0].final_report().best_top1)


def test_fusable_allows_only_shape_free_differences() -> None:
    from orchestrator.train.fusable import fusable

    assert fusable(configs()) == (True, "")
    for section, change, key in (("model", {"name": "resnet32"}, "model.name"),
                                 ("data", {**BASE["data"], "batch_size": 64}, "data.batch_size"),
                                 ("train", {**BASE["train"], "amp": "off"}, "train.amp"),
                                 ("train", {**BASE["train"], "channels_last": True}, "train.channels_last")):
        other = copy.deepcopy(BASE)
        other[section] = change
        ok, reason = fusable([BASE, other])
        assert not ok and f"in {key} (" in reason and "\n" not in reason
    compiled = copy.deepcopy(BASE)
    compiled["train"]["compile"] = True
    assert fusable([BASE, compiled]) == (False, "train.compile: a fused step runs under torch.func.vmap, "
                                                "which is not compiled here")
    with pytest.raises(ValueError, match="cannot train fused: trial 2 differs from trial 1 in model.name"):
        FusedTrainer.from_configs([BASE, {**BASE, "model": {"name": "resnet32"}}], seeds=[0, 1])
