"""The sweep's progress lines: the tally and the best so far, from Tune's trial events."""

from __future__ import annotations

from types import SimpleNamespace

from orchestrator.run.callbacks import ProgressPrinter, SweepTally
from orchestrator.tracking.names import BEST_TOP1, TOP1

EPOCHS = 4


def trial(trial_id: str, epoch: int, best: float) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, last_result={"epoch": epoch, TOP1: best, BEST_TOP1: best})


def printer(lines: list[str]) -> ProgressPrinter:
    plans = lambda t: SimpleNamespace(run_key=t.trial_id, label=t.trial_id, seed=0)  # noqa: E731
    return ProgressPrinter(SweepTally(total=3), plans, epochs=EPOCHS, metric=TOP1, mode="max", echo=lines.append)


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
