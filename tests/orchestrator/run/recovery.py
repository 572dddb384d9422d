"""Helpers of the recovery tests: tiny studies, what the store recorded, and the uninterrupted
reference run each recovered run must equal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import mlflow
import psutil
import torch

from orchestrator.designs import get_design
from orchestrator.spec.plans import TrialPlan
from orchestrator.train import Trainer

REPO = Path(__file__).resolve().parents[3]  # the checkout these tests belong to
DATA = {"dataset": "synthetic", "batch_size": 32,
        "options": {"num_classes": 4, "train_size": 128, "val_size": 64, "image_size": 16}}
COMPARED = ("train/loss", "train/top1", "val/loss", "val/top1", "val/top5", "opt/lr")
History = dict[str, list[tuple[int, float]]]


def expand(spec) -> list[TrialPlan]:
    """Every (configuration, seed) of a fixed-design study, as its sweep would run them."""
    return get_design(spec.search.kind).expand(spec)


def study(name: str, store_uri: str, *, lrs: list[float], epochs: int = 4, **resources) -> dict:
    return {"name": name, "data": DATA, "model": {"name": "resnet20"},
            "train": {"epochs": epochs, "optimizer": {"name": "sgd", "lr": 0.05}},
            "search": {"kind": "grid", "factors": {"train.optimizer.lr": lrs}},
            "tracking": {"uri": store_uri}, "resources": {"cpus_per_trial": 1, **resources}}


def trial_runs(store_uri: str, name: str):
    mlflow.set_tracking_uri(store_uri)
    if mlflow.MlflowClient(store_uri).get_experiment_by_name(name) is None:
        return mlflow.search_runs(experiment_ids=[]).assign(**{"tags.orchestrate.kind": []})
    runs = mlflow.search_runs(experiment_names=[name])
    return runs[runs["tags.orchestrate.kind"] == "trial"]


def histories(store_uri: str, run_id: str) -> History:
    """Every logged value of each compared metric: a step logged twice shows up twice."""
    client = mlflow.MlflowClient(tracking_uri=store_uri)
    return {key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key)) for key in COMPARED}


def uninterrupted(plan: TrialPlan) -> History:
    """The same (configuration, seed) trained straight through in this process, one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the trial: Ray gives it one CPU
    try:
        history = Trainer.from_config(plan.config, seed=plan.seed).fit()
    finally:
        torch.set_num_threads(threads)
    return {key: [(int(m["epoch"]), m[key]) for m in history] for key in COMPARED}


def wait_for(condition: Callable[[], bool], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.5)


def orchestrate(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``orchestrate ARGS`` of this checkout (the console script on PATH may be another's)."""
    return subprocess.run(command(*args), capture_output=True, text=True, env=checkout_env(), **kwargs)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli", *args]


def checkout_env() -> dict[str, str]:
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}  # progress lines as they come


class Driver:
    """``orchestrate sweep`` in its own session (as a shell starts it), its output collected
    line by line so a test can act at a given point."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(command("sweep", *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=checkout_env(), start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def finish(self, timeout: float = 600) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return code, "\n".join(self.lines)


def kill_driver(driver: Driver) -> None:
    """SIGKILL the driver and every process it started (its own Ray's too, when it started one)."""
    for process in [*psutil.Process(driver.process.pid).children(recursive=True), driver.process]:
        process.send_signal(signal.SIGKILL)
    driver.finish()


def last_logged_epoch(store_uri: str, name: str) -> int:
    """The last epoch the study's RUNNING trial run has logged (0: none, or no such run)."""
    runs = trial_runs(store_uri, name)
    running = runs[runs["status"] == "RUNNING"] if len(runs) else runs
    if running.empty or "metrics.val/top1" not in running or running["metrics.val/top1"].isna().all():
        return 0
    history = mlflow.MlflowClient(store_uri).get_metric_history(running["run_id"].iloc[0], "val/top1")
    return max(m.step for m in history)


def tune_results(storage: Path) -> list[list[dict]]:
    """Every Tune trial's results under ``storage``, one list per trial folder and experiment."""
    return [[json.loads(line) for line in path.read_text().splitlines()] for path in storage.rglob("result.json")]
