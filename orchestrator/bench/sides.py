"""The sides of ``orchestrate bench sweep`` that are not ``orchestrate sweep`` itself, each run as
its own command (``python -m orchestrator.bench.sides SIDE SPEC.json ...``) so its wall time
holds everything a user waits for: the interpreter, imports, Ray, the trials, the shutdown.

Every side trains the plans of one spec with the same :class:`Trainer`, one thread per trial.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from ..train.config import TrialConfig
from ..designs import get_design
from ..study import parse_spec
from ..train import Trainer


def trial_plans(spec_path: Path) -> list[dict[str, Any]]:
    """The (config, seed) of every trial of the spec, as ``orchestrate sweep`` expands it."""
    spec = parse_spec(json.loads(spec_path.read_text()))
    plans = get_design(spec.search.kind).expand(spec)
    return [{"config": plan.config, "seed": plan.seed} for plan in plans]


def fit(plan: dict[str, Any]) -> tuple[float, float]:
    """(start, end) wall-clock times of ``Trainer.fit()`` of one plan, on one thread."""
    torch.set_num_threads(1)
    trainer = Trainer.from_config(TrialConfig.of_plan(plan["config"]), seed=plan["seed"])
    start = time.time()
    trainer.fit()
    return start, time.time()


def alone(plans: list[dict[str, Any]]) -> dict[str, Any]:
    """The compute of one trial with the machine to itself: the unit every efficiency counts in."""
    start, end = fit(plans[0])
    return {"fit_seconds": end - start}


def ideal(plans: list[dict[str, Any]], slots: int) -> dict[str, Any]:
    """Plain processes, ``slots`` at a time, nothing but ``Trainer.fit()``: the pure-compute side."""
    with ProcessPoolExecutor(slots, mp_context=get_context("spawn")) as pool:
        spans = list(pool.map(fit, plans))
    return {"first_step": min(start for start, _ in spans)}


def bare_trainable(config: dict[str, Any]) -> None:
    """What a hand-written Tune script does: build the trainer, report each epoch."""
    from ray import tune

    torch.set_num_threads(1)
    plan = config["plan"]
    trainer = Trainer.from_config(TrialConfig.of_plan(plan["config"]), seed=plan["seed"])
    while not trainer.done:
        tune.report(trainer.run_epoch())


def bare_tune(plans: list[dict[str, Any]], slots: int, folder: Path) -> dict[str, Any]:
    """Ray Tune with Ray's own ``MLflowLoggerCallback`` on a SQLite store, defaults elsewhere."""
    from ray import tune
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    callback = MLflowLoggerCallback(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", experiment_name="bare")
    tuner = tune.Tuner(
        tune.with_resources(bare_trainable, {"cpu": 1}),
        param_space={"plan": tune.grid_search(plans)},
        tune_config=tune.TuneConfig(max_concurrent_trials=slots),
        run_config=tune.RunConfig(storage_path=str(folder / "tune"), callbacks=[callback], verbose=0),
    )
    tuner.fit()
    return {}


def tune_floor(trials: int, slots: int, folder: Path) -> dict[str, Any]:
    """Ray Tune alone running ``trials`` trials that do nothing, with what a sweep asks of it
    (reused workers, ``slots`` at a time, one CPU each, no CSV or TensorBoard files): the start-up
    and per-trial cost below which no Tune-based sweep can go on this machine."""
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from .floor import report_once

    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"  # the results files stay: the bench reads them
    tune.Tuner(
        tune.with_resources(report_once, {"cpu": 1}),
        param_space={"trial": tune.grid_search(list(range(trials)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=slots, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(folder / "tune"), callbacks=[JsonLoggerCallback()], verbose=0),
    ).fit()
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("side", choices=["alone", "ideal", "tune", "floor"])
    parser.add_argument("spec", type=Path, help="the study as JSON")
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path.cwd())
    args = parser.parse_args()
    plans = trial_plans(args.spec)
    sides = {"alone": lambda: alone(plans), "ideal": lambda: ideal(plans, args.slots),
             "tune": lambda: bare_tune(plans, args.slots, args.folder),
             "floor": lambda: tune_floor(len(plans), args.slots, args.folder)}
    print(json.dumps(sides[args.side]()))  # the one line the bench reads back


if __name__ == "__main__":
    main()
