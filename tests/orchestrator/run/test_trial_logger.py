"""The MLflow logger callback queues its writes to one writer thread, opening a run included:
Tune's loop does not wait on the store, the writes keep their order, a run's id is there for
whoever reads it, and a stage (or a Ctrl-C) ends with all of them done."""

from __future__ import annotations

import pickle
import threading
import time
from types import SimpleNamespace
from typing import Optional

import pytest

from orchestrator.run.callbacks import TrialPlans
from orchestrator.run.trial_logger import MlflowTrialLogger
from orchestrator.spec.plans import TrialPlan
from orchestrator.retry import GaveUp


class SlowStore:
    """A tracker whose metric writes wait until the test lets them through, recording the order
    of all writes."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.opening = threading.Event()  # runs open at once unless a test clears this
        self.opening.set()
        self.writes: list[tuple] = []

    def start_trial(self, plan: dict, *, started: Optional[float] = None) -> str:
        self.opening.wait(10)
        self.writes.append(("start", plan["seed"]))
        return f"run{plan['seed']}"

    def set_tags(self, run_id: str, tags: dict) -> None:
        self.writes.append(("tags", run_id))

    def log_metrics(self, run_id: str, metrics: dict, *, step: int, tags: Optional[dict] = None) -> None:
        self.gate.wait(10)
        self.writes.append(("metrics", run_id, step, *sorted(tags or {})))

    def finish_trial(self, run_id: str, **kwargs) -> None:
        if kwargs["status"] == "FAILED":
            raise RuntimeError("the store is gone")
        self.writes.append(("finish", run_id, kwargs["status"]))

    def mark_interrupted(self, run_id: str) -> None:
        self.writes.append(("interrupted", run_id))

    def __getstate__(self) -> dict:
        return {}


def a_trial(seed: int, epoch: int = 1) -> SimpleNamespace:
    return SimpleNamespace(trial_id=f"t{seed}", config={"seed": seed}, checkpoint=None,
                           last_result={"epoch": epoch, "total_epochs": 1}, error_file=None,
                           get_error=lambda: "boom")


def plan_of(config: dict) -> TrialPlan:
    return TrialPlan("c", "label", {}, config["seed"], {})


@pytest.fixture
def logger_and_store():
    store = SlowStore()
    return MlflowTrialLogger(store, TrialPlans(plan_of), epochs=1), store


def test_callbacks_return_while_the_store_is_busy_and_writes_keep_their_order(logger_and_store) -> None:
    logger, store = logger_and_store
    trial = a_trial(0)
    logger.on_trial_result(0, [], trial, {"epoch": 1, "val/top1": 50.0, "node_id": "n"})
    assert logger.identities == {"t0": {"run_key": "c-s0", "mlflow_run_id": "run0"}}  # for Optuna
    logger.on_trial_complete(0, [], trial)
    assert [write[0] for write in store.writes] == ["start"]  # did not wait on metrics
    assert not logger.open
    store.gate.set()
    logger.on_experiment_end([])
    node_tags = ("orchestrate.device", "orchestrate.node", "orchestrate.node_ip")
    assert store.writes == [("start", 0), ("metrics", "run0", 1, *node_tags), ("finish", "run0", "FINISHED")]


def test_tunes_loop_does_not_wait_for_a_run_to_open_and_its_id_waits_for_it(logger_and_store) -> None:
    logger, store = logger_and_store
    store.opening.clear()
    store.gate.set()
    trial = a_trial(0)
    logger.on_trial_result(0, [], trial, {"epoch": 1})
    logger.on_trial_complete(0, [], trial)
    assert store.writes == []  # the callbacks returned before the run was opened
    threading.Timer(0.2, store.opening.set).start()
    assert logger.identities["t0"] == {"run_key": "c-s0", "mlflow_run_id": "run0"}  # waited for
    logger.on_experiment_end([])
    assert store.writes == [("start", 0), ("metrics", "run0", 1), ("finish", "run0", "FINISHED")]


def test_a_failed_write_is_raised_when_the_stage_ends(logger_and_store) -> None:
    logger, store = logger_and_store
    store.gate.set()
    logger.on_trial_error(0, [], a_trial(1))
    with pytest.raises(RuntimeError, match="the store is gone"):
        logger.on_experiment_end([])
    logger.on_experiment_end([])  # raised once


def test_a_stopped_sweep_closes_its_open_runs_after_the_queued_writes(logger_and_store) -> None:
    logger, store = logger_and_store
    logger.on_trial_error(0, [], a_trial(1))  # fails in the writer: not raised by the close
    logger.on_trial_result(0, [], a_trial(2), {"epoch": 1})
    threading.Timer(0.2, store.gate.set).start()
    assert logger.close_open_runs() == 1
    assert store.writes[-2:] == [("metrics", "run2", 1), ("interrupted", "run2")] and not logger.open


def test_the_pickled_logger_keeps_run_ids_and_writes_again(logger_and_store) -> None:
    logger, store = logger_and_store
    store.gate.set()
    logger.on_trial_result(0, [], a_trial(2), {"epoch": 1})
    logger.on_experiment_end([])
    restored = pickle.loads(pickle.dumps(logger))  # as Tune saves it: with a writer of its own
    restored.tracker = store
    restored.on_trial_result(0, [], a_trial(2, epoch=2), {"epoch": 2})
    restored.on_experiment_end([])
    assert store.writes[-1] == ("metrics", "run2", 2) and ("start", 2) in store.writes
    assert store.writes.count(("start", 2)) == 1  # the restored logger knew the run
    restored.on_trial_result(0, [], a_trial(3), {"epoch": 1})  # and opens new ones
    assert restored.identities == {"t2": {"run_key": "c-s2", "mlflow_run_id": "run2"},
                                   "t3": {"run_key": "c-s3", "mlflow_run_id": "run3"}}


class GoneStore(SlowStore):
    """A tracker whose metric writes give up: the tracking server stayed away past its limit."""

    def log_metrics(self, run_id: str, metrics: dict, *, step: int, tags: Optional[dict] = None) -> None:
        raise GaveUp("tracking store http://mlflow:5000 unreachable for 300 s")


def test_a_store_that_gave_up_stops_the_sweep_at_the_next_epoch_and_at_its_close() -> None:
    store = GoneStore()
    logger = MlflowTrialLogger(store, TrialPlans(plan_of), epochs=3)
    logger.on_trial_result(0, [], a_trial(0), {"epoch": 1})
    logger.writes.drain()
    with pytest.raises(GaveUp):  # raised in Tune's loop: the sweep stops instead of training on unlogged
        logger.on_trial_result(0, [], a_trial(0, epoch=2), {"epoch": 2})
    with pytest.raises(GaveUp):  # and its close says why, instead of writing to the store again
        logger.close_open_runs()
    assert ("interrupted", "run0") not in store.writes


def test_a_runs_start_is_when_tune_started_its_trial_not_its_first_epoch(tmp_path) -> None:
    """The run opens at the first epoch; its MLflow start time (the UI's duration) is the trial's."""
    from mlflow.tracking import MlflowClient

    from orchestrator.tracking.writer import StudyTracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    plan = TrialPlan("c", "label", {}, 0, {"model": {"name": "resnet20"}})
    logger = MlflowTrialLogger(StudyTracker("dated", uri), TrialPlans(lambda config: plan), epochs=1)
    trial = a_trial(0)
    before = time.time()
    logger.on_trial_start(0, [], trial)
    time.sleep(1.0)  # building the model and the first epoch
    logger.on_trial_result(0, [], trial, {"epoch": 1, "val/top1": 50.0})
    logger.on_trial_complete(0, [], trial)
    logger.on_experiment_end([])
    run = MlflowClient(uri).get_run(logger.identities["t0"]["mlflow_run_id"])
    assert int(before * 1000) <= run.info.start_time < (before + 0.5) * 1000
    assert run.info.end_time - run.info.start_time >= 1000


def test_the_cuda_graph_state_is_tagged_first_and_again_only_when_a_capture_fails(logger_and_store) -> None:
    logger, store = logger_and_store
    tagged: list[dict] = []
    store.log_metrics = lambda run_id, metrics, *, step, tags=None: tagged.append(dict(tags or {}))
    store.gate.set()
    trial = a_trial(0, epoch=3)
    for epoch, graphs in ((1, "on"), (2, "on"), (3, "off: capture failed: operation not permitted")):
        logger.on_trial_result(0, [], trial, {"epoch": epoch, "node_id": "n", "device": "cuda", "cuda_graphs": graphs})
    logger.on_experiment_end([])
    assert [tags.get("orchestrate.cuda_graphs") for tags in tagged] == [
        "on", None, "off: capture failed: operation not permitted"]
    assert tagged[0]["orchestrate.device"] == "cuda"
