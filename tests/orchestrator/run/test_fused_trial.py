"""The fused trainable's restore, in process (Tune's calls faked): what Tune's checkpoint of a
retried trial holds is what each member goes on from."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from ray.tune import Checkpoint

from orchestrator.run import fused_trial
from orchestrator.run.trial import CHECKPOINT_FILE
from orchestrator.spec.plans import TrialPlan
from orchestrator.tracking.names import FAILURE_KEY, MEMBERS_KEY
from orchestrator.train.config import TrialConfig
from orchestrator.train.fused import FusedTrainer

BASE = {
    "data": {"dataset": "synthetic", "batch_size": 32,
             "options": {"num_classes": 4, "train_size": 64, "val_size": 32, "image_size": 8}},
    "model": {"name": "resnet20"},
    "train": {"epochs": 2, "device": "cpu", "optimizer": {"name": "sgd", "lr": 0.05}},
}


def plan(key: str, lr: float) -> TrialPlan:
    raw = {**BASE, "train": {**BASE["train"], "optimizer": {"name": "sgd", "lr": lr}}}
    config = TrialConfig.model_validate(raw).model_dump(mode="json")
    return TrialPlan(config_key=key, label=f"lr={lr}", factors={"train.optimizer.lr": lr}, seed=0, config=config)


def test_a_member_that_failed_before_the_retry_stays_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed members are not saved in the group's checkpoints, so Tune's checkpoint of a trial
    retried after its worker died holds only the others: the failed one must not train again
    (from scratch, behind a run the driver has already closed as FAILED)."""
    plans = [plan("ok", 0.05), plan("diverged", 0.02)]
    first = FusedTrainer.from_configs([TrialConfig.of_plan(p.config) for p in plans], seeds=[0, 0])
    first.run_epoch()
    saved = tmp_path / "checkpoint_000000"
    (saved / plans[0].run_key).mkdir(parents=True)
    torch.save(first.state_dict(0), saved / plans[0].run_key / CHECKPOINT_FILE)  # the other had failed

    reports: list[dict] = []
    monkeypatch.setattr(fused_trial.tune, "get_checkpoint", lambda: Checkpoint.from_directory(str(saved)))
    monkeypatch.setattr(fused_trial.tune, "report", lambda result, checkpoint=None: reports.append(result))
    monkeypatch.setattr(fused_trial.ray, "get_runtime_context", lambda: SimpleNamespace(get_node_id=lambda: "node"))
    monkeypatch.setattr(fused_trial.checkpoint_retry, "send_with_checkpoint",
                        lambda send, folder, patience_s: send(None))
    fused_trial._train(plans, ["val/top1"], checkpoint_root=str(tmp_path), checkpoint_every=1, resume_epochs={},
                       kill_after_epoch=None, storage_patience=None)

    members = [report[MEMBERS_KEY] for report in reports]
    assert [sorted(m) for m in members] == [[plans[0].run_key]]  # one epoch left, of the member that had one
    assert members[0][plans[0].run_key]["epoch"] == 2.0 and FAILURE_KEY not in members[0][plans[0].run_key]
