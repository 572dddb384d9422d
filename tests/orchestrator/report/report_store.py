"""Real MLflow stores with known values, logged through StudyTracker as a sweep would log them.

A module of its own, imported by the report tests and by this folder's conftest (which holds only
fixtures): ``from conftest import`` finds whichever conftest pytest imported last, so it breaks
when another folder's tests are collected first.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from scipy import stats

from orchestrator.spec.plans import config_key, set_path
from orchestrator.tracking.names import DEVICE_TAG, TAG
from orchestrator.tracking.writer import StudyTracker

STATUS = {"finished": "FINISHED", "pruned": "KILLED", "failed": "FAILED"}
# Every run's curve peaks before its last epoch: its best-epoch top-1 is this much above the final
# one, so a report that reads one under the other's label gets numbers the tests do not expect.
PEAK_GAIN = 1.5
BASE = {"model": {"name": "resnet20", "attention": "eca", "attention_kwargs": {"k_size": 3}},
        "data": {"dataset": "digits", "augment": "standard"}, "train": {"epochs": 3, "seed": 0}}


@dataclass(frozen=True)
class Trial:
    """One logged run: the configuration's factors, its seed and what it reached.

    ``top1`` is the final epoch's validation top-1 (the headline without a held-out split);
    ``best_top1`` the best epoch's, ``PEAK_GAIN`` above it unless given; ``best_epoch`` comes
    before the last of the recipe's 3 epochs.
    """

    label: str
    factors: dict[str, Any]
    seed: int
    top1: float
    outcome: str = "finished"
    top5: float = 95.0
    params: float = 270_000.0
    macs: Optional[float] = None
    train_seconds: float = 36.0
    best_epoch: int = 2
    device: Optional[str] = None
    curve: tuple[float, ...] = ()
    per_class: Optional[dict[str, float]] = None
    test_top1: Optional[float] = None  # a run with data.val_split: the test top-1 at the best epoch
    best_top1: Optional[float] = None

    @property
    def peak(self) -> float:
        """The best epoch's top-1, above the final one."""
        return self.best_top1 if self.best_top1 is not None else min(self.top1 + PEAK_GAIN, 100.0)


def make_spec(name: str, *, factors: dict[str, list[Any]], kind: str = "ablation",
              baseline: Optional[dict[str, Any]] = None, design: Optional[str] = None,
              repeats: int = 3) -> dict[str, Any]:
    search = {"kind": kind, "factors": factors, "baseline": baseline, "repeats": repeats,
              "metric": "val/top1", "mode": "max"}
    if design:
        search["design"] = design
    return {"name": name, **copy.deepcopy(BASE), "search": search}


def make_variants_spec(name: str, variants: dict[str, dict[str, Any]], *, reference: Optional[str] = None,
                       repeats: int = 3) -> dict[str, Any]:
    search = {"kind": "variants", "variants": variants, "reference": reference, "repeats": repeats,
              "metric": "val/top1", "mode": "max"}
    return {"name": name, **copy.deepcopy(BASE), "search": search}


def log_study(uri: str, spec: dict[str, Any], trials: list[Trial]) -> StudyTracker:
    """One sweep of ``trials`` in order, as the sweep driver logs it."""
    tracker = StudyTracker(spec["name"], uri)
    tracker.start_sweep(spec, trial_count=len(trials))
    for trial in trials:
        _log_trial(tracker, trial)
    tracker.end_sweep()
    return tracker


def _log_trial(tracker: StudyTracker, trial: Trial) -> None:
    config = copy.deepcopy(BASE)
    for path, value in trial.factors.items():
        set_path(config, path, value)
    plan = {"config_key": config_key(config), "label": trial.label, "factors": trial.factors,
            "seed": trial.seed, "config": config}
    run_id = tracker.start_trial(plan)
    for epoch, value in enumerate(trial.curve, 1):
        tracker.log_metrics(run_id, {"val/top1": value, "val/top5": trial.top5}, step=epoch)
    summary = {"summary/best_top1": trial.peak, "summary/final_top1": trial.top1, "summary/top5_at_best": trial.top5,
               "summary/best_epoch": trial.best_epoch, "summary/params": trial.params,
               "summary/train_seconds": trial.train_seconds, "summary/epochs": len(trial.curve)}
    if trial.macs is not None:
        summary["summary/macs"] = trial.macs
    if trial.test_top1 is not None:
        summary["summary/test_top1_at_best"] = trial.test_top1
    tags = {f"{TAG}outcome": trial.outcome}
    if trial.device:
        tags[DEVICE_TAG] = trial.device
    if trial.outcome == "failed":
        summary, tags[f"{TAG}failure"] = {}, "RuntimeError: CUDA out of memory"
    if trial.per_class:
        rows = "\n".join(f"{name},{acc}" for name, acc in trial.per_class.items())
        tracker.client.log_text(run_id, f"class,accuracy\n{rows}\n", "per_class_accuracy.csv")
    tracker.finish_trial(run_id, status=STATUS[trial.outcome], summary=summary, tags=tags)



def open_store(folder: Path) -> str:
    """A new SQLite store in ``folder``."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    StudyTracker("_open", uri).experiment_id
    return uri



K_SIZE, ATTENTION = "model.attention_kwargs.k_size", "model.attention"
# The one-at-a-time study: baseline and three kernel sizes over seeds 0-2, where k=5's seed 2 was
# pruned, k=7's seed 1 failed and k=3's seed 0 failed once before a resumed sweep finished it.
OAT_VALUES = {
    "baseline": ({ATTENTION: None}, [70.1, 71.3, 69.8]),
    "k_size=3": ({K_SIZE: 3}, [72.0, 73.1, 72.4]),
    "k_size=5": ({K_SIZE: 5}, [71.0, 72.5, 40.0]),
    "k_size=7": ({K_SIZE: 7}, [70.5, 0.0, 71.9]),
}
OAT_OUTCOMES = {("k_size=5", 2): "pruned", ("k_size=7", 1): "failed"}
# Sizes that differ meaningfully, so the accuracy-vs-parameters figure is drawn.
OAT_PARAMS = {"baseline": 270_000.0, "k_size=3": 360_000.0, "k_size=5": 420_000.0, "k_size=7": 480_000.0}


def oat_trial(label: str, seed: int, **overrides: Any) -> Trial:
    factors, values = OAT_VALUES[label]
    top1 = values[seed]
    fields = dict(
        top5=top1 + 20.0, params=OAT_PARAMS[label], train_seconds=36.0 * (seed + 1),
        best_epoch=1 + seed % 2, curve=_peaking(top1, peak=min(top1 + PEAK_GAIN, 100.0), at=1 + seed % 2),
        outcome=OAT_OUTCOMES.get((label, seed), "finished"),
        macs=41e6 if label == "k_size=3" else None,
        device="cuda:0" if label == "k_size=3" or (label, seed) == ("baseline", 0) else None,
    )
    return Trial(label, factors, seed, top1, **(fields | overrides))


def _peaking(final: float, *, peak: float, at: int, epochs: int = 3) -> tuple[float, ...]:
    """A validation curve that reaches ``peak`` at epoch ``at`` and ends lower, at ``final``."""
    return tuple(peak if epoch == at else final - 10 + epoch for epoch in range(1, epochs)) + (final,)


def oat_spec(name: str = "oat") -> dict[str, Any]:
    return make_spec(name, factors={K_SIZE: [3, 5, 7]}, baseline={ATTENTION: None})


def log_oat(uri: str, name: str = "oat", *, per_class: Optional[dict[str, float]] = None) -> StudyTracker:
    """The study in two sweeps: the first fails k=3 seed 0, the resumed one finishes it."""
    log_study(uri, oat_spec(name), [oat_trial("k_size=3", 0, outcome="failed")])
    trials = [oat_trial(label, seed, per_class=per_class if label == "k_size=3" else None)
              for label in OAT_VALUES for seed in range(3)]
    return log_study(uri, oat_spec(name), trials)


def logit_interval(x: Any, confidence: float = 0.95) -> tuple[float, float]:
    """The bounded interval by hand: t interval of log(p / (1 - p)), mapped back to percent."""
    p = np.asarray(x, dtype=float) / 100
    z = np.log(p / (1 - p))
    half = stats.t.ppf(0.5 + confidence / 2, len(z) - 1) * z.std(ddof=1) / np.sqrt(len(z))
    return tuple(100 / (1 + np.exp(-(z.mean() + sign * half))) for sign in (-1, 1))
