"""A store of 2,000 runs: paging through it gives the same leaderboard pandas computes directly.

No timing is asserted (shared machines vary); the read is paged, so its cost grows linearly.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from report_store import STATUS, open_store
from scipy import stats

from orchestrator.report import leaderboard
from orchestrator.report.runs import load_runs
from orchestrator.tracking.names import TAG
from orchestrator.tracking.writer import StudyTracker

CONFIGS, SEEDS = 500, 4


def outcome(config: int, seed: int) -> str:
    if seed == 3 and config % 10 == 0:
        return "pruned"
    return "failed" if seed == 2 and config % 25 == 0 else "finished"


def top1(config: int, seed: int) -> float:
    return 40.0 + (config * 7919 % 500) / 10 + seed * 0.3 + (config % 3) * 0.05 * seed**2


# Writing 2,000 real runs takes most of a minute on 2 cores: run with `pytest -m slow`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bulk(store_folder) -> str:
    """Runs written in bulk: one create, one batch of summary metrics and the close per run."""
    uri = open_store(store_folder / "bulk")
    tracker = StudyTracker("bulk", uri)
    for config in range(CONFIGS):
        for seed in range(SEEDS):
            tags = {f"{TAG}kind": "trial", f"{TAG}config_key": f"c{config:04d}", f"{TAG}label": f"cfg{config}",
                    f"{TAG}run_key": f"c{config:04d}-s{seed}", f"{TAG}seed": str(seed), f"{TAG}model": "resnet20",
                    f"{TAG}factors": json.dumps({"model.width": config}), f"{TAG}outcome": outcome(config, seed)}
            run_id = tracker.client.create_run(tracker.experiment_id, tags=tags).info.run_id
            summary = {"summary/best_top1": top1(config, seed), "summary/params": 1e6 + config}
            tracker.log_metrics(run_id, summary, step=0)
            tracker.client.set_terminated(run_id, STATUS[outcome(config, seed)])
    return uri


def test_every_run_is_read_in_pages_and_counted(bulk):
    runs = load_runs("bulk", uri=bulk)
    assert runs.read == CONFIGS * SEEDS
    assert runs.tally() == {"finished": 1930, "pruned": 50, "failed": 20, "running": 0}


def test_leaderboard_of_a_large_store_matches_pandas(bulk):
    board = leaderboard("bulk", uri=bulk).set_index("config_key")
    rows = [(f"c{c:04d}", top1(c, s)) for c in range(CONFIGS) for s in range(SEEDS) if outcome(c, s) == "finished"]
    frame = pd.DataFrame(rows, columns=["config_key", "top1"])
    expected = frame.groupby("config_key")["top1"]
    mean, n = expected.mean(), expected.count()
    logit = np.log(frame["top1"] / (100 - frame["top1"])).groupby(frame["config_key"])  # bounded interval
    half = stats.t.ppf(0.975, n - 1) * logit.std(ddof=1) / np.sqrt(n)
    assert len(board) == CONFIGS and board["rank"].tolist() == list(range(1, CONFIGS + 1))
    assert np.allclose(board.loc[mean.index, "top1_mean"], mean)
    assert np.allclose(board.loc[mean.index, "top1_ci_low"], 100 / (1 + np.exp(-(logit.mean() - half))))
    assert (board.loc[n.index, "n_seeds"] == n).all()
    assert board["n_pruned"].sum() == 50 and board["n_failed"].sum() == 20
    assert board["top1_mean"].is_monotonic_decreasing
