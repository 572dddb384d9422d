"""The sweep's progress lines: the tally and the best so far, from Tune's trial events."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from orchestrator.run import callbacks
from orchestrator.run.callbacks import ProgressPrinter, SweepTally
from orchestrator.tracking.names import BEST_TOP1, TOP1

EPOCHS = 4


def trial(trial_id: str, epoch: int, best: float) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, last_result={"epoch": epoch, TOP1: best, BEST_TOP1: best})


def printer(lines: list[str], total: int = 3) -> ProgressPrinter:
    plans = lambda t: SimpleNamespace(run_key=t.trial_id, label=t.trial_id, seed=0)  # noqa: E731
    return ProgressPrinter(SweepTally(total=total), plans, epochs=EPOCHS, metric=TOP1, mode="max", echo=lines.append)


def test_the_best_so_far_is_of_finished_trials_only() -> None:
    """A pruned trial's number is from an epoch the finished ones went past: ranked apart from
    them on the leaderboard, and never the progress line's best."""
    lines: list[str] = []
    progress = printer(lines)
    progress.on_trial_complete(0, [], trial("pruned_high", epoch=1, best=90.0))
    assert "best" not in lines[-1] and "1/3 done" in lines[-1]
    progress.on_trial_complete(0, [], trial("finished_low", epoch=EPOCHS, best=60.0))
    assert lines[-1].endswith("| best val/top1 60.00] finished finished_low s0 (new best)")
    progress.on_trial_complete(0, [], trial("finished_high", epoch=EPOCHS, best=70.0))
    assert lines[-1].endswith("3/3 done, 0 running, 0 failed | best val/top1 70.00] finished finished_high s0 (new best)")


def test_the_best_is_named_once_on_the_line_that_made_it_the_best() -> None:
    lines: list[str] = []
    progress = printer(lines)
    progress.on_trial_complete(0, [], trial("first", epoch=EPOCHS, best=70.0))
    progress.on_trial_complete(0, [], trial("worse", epoch=EPOCHS, best=65.0))
    assert lines[-1].endswith("| best val/top1 70.00] finished worse s0")
    assert sum("first" in line for line in lines) == 1


def test_the_time_left_is_the_epochs_left_at_the_rate_this_sweep_trains_them(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: now[0])
    lines: list[str] = []
    now[0] = -30.0  # the printer is made 30 s before the first trial starts (Ray starting): not counted
    progress = printer(lines)  # 3 trials of 4 epochs
    now[0] = 0.0
    for name in ("a", "b"):
        progress.on_trial_start(0, [], SimpleNamespace(trial_id=name, last_result={}))
    assert "left" not in lines[-1]  # no epoch in: no rate yet
    now[0] = 10.0
    for name in ("a", "b"):  # two epochs in 10 s, two trials at once
        progress.on_trial_result(0, [], trial(name, epoch=1, best=50.0), {"epoch": 1, TOP1: 50.0})
    # Left: the queued trial's 4 epochs and 3 more of each running one, 10 epochs at 0.2 a second.
    assert "~50 s left" in lines[-1]
    now[0] = 40.0
    for epoch in (2, 3, 4):
        progress.on_trial_result(0, [], trial("a", epoch=epoch, best=60.0), {"epoch": epoch, TOP1: 60.0})
    progress.on_trial_complete(0, [], trial("a", epoch=EPOCHS, best=60.0))
    assert "~56 s left" in lines[-1]  # 5 epochs in 40 s; left: 4 of the queued trial, 3 of b: 7 at 0.125 a second


def test_no_time_left_is_shown_while_the_count_of_trials_is_open() -> None:
    lines: list[str] = []
    progress = printer(lines, total=0)  # a search whose trial count is not known up front
    progress.on_trial_result(0, [], trial("a", epoch=1, best=50.0), {"epoch": 1, TOP1: 50.0})
    assert "left" not in lines[-1]


@pytest.mark.parametrize(("last_line", "reason"), [
    ("orchestrator.train.loop.NonFiniteLossError: training loss is nan; the run diverged",
     "NonFiniteLossError: training loss is nan; the run diverged"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
     "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
    ("RuntimeError: shape '[2, 3]' is invalid for input of size 7", "RuntimeError: shape '[2, 3]' is invalid for input of size 7"),
    ("see ./run.log: lost", "see ./run.log: lost"),
])
def test_a_failures_reason_is_its_last_line_with_the_exceptions_class_name(last_line: str, reason: str) -> None:
    """The module path made each failed trial's summary line and tag longer without saying more."""
    traceback = f"Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n{last_line}\n"
    assert callbacks.first_line(traceback) == reason
