"""A study with a sweep added on purpose under another base recipe (``--add-to-study``): the
report names the sweeps it read, the leaderboard keeps both recipes apart, and the ablation
table takes only the latest recipe's runs and says so."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from report_store import BASE, K_SIZE, make_spec

from orchestrator.report.study_report import write_report
from orchestrator.spec.plans import config_key
from orchestrator.tracking.names import ADDED_TO_STUDY, TAG
from orchestrator.tracking.writer import StudyTracker

STUDY = "mixed"
TOP1 = {  # recipe suffix -> label -> top-1 of seeds 0 and 1
    "": {"baseline": [70.0, 71.0], "k_size=5": [72.0, 73.0]},
    " [epochs=2]": {"baseline": [50.0, 52.0], "k_size=5": [55.0, 54.0]},
}


def log_sweep(uri: str, suffix: str) -> None:
    spec = make_spec(STUDY, factors={K_SIZE: [5]}, baseline={"model.attention": None}, repeats=2)
    spec["train"]["epochs"] = 2 if suffix else 3
    tracker = StudyTracker(STUDY, uri)
    tracker.start_sweep(spec, trial_count=4, extra_tags={ADDED_TO_STUDY: json.dumps({"train.epochs": 2})} if suffix else None)
    for label, values in TOP1[suffix].items():
        factors = {"model.attention": None} if label == "baseline" else {K_SIZE: 5}
        config = copy.deepcopy(BASE) | {"train": spec["train"]}
        for path, value in factors.items():
            config["model"][path.rsplit(".", 1)[-1]] = value
        for seed, top1 in enumerate(values):
            run_id = tracker.start_trial({"config_key": config_key(config), "label": label + suffix,
                                          "factors": factors, "seed": seed, "config": config})
            tracker.finish_trial(run_id, status="FINISHED", tags={f"{TAG}outcome": "finished"},
                                 summary={"summary/best_top1": top1, "summary/top5_at_best": 90.0,
                                          "summary/best_epoch": 2, "summary/params": 1e5, "summary/train_seconds": 1})
    tracker.end_sweep()


@pytest.fixture(scope="module")
def reported(store, tmp_path_factory):
    log_sweep(store, "")
    log_sweep(store, " [epochs=2]")
    return write_report(STUDY, tmp_path_factory.mktemp("report"), uri=store, log=False)


def test_the_report_names_the_sweeps_it_read(reported) -> None:
    assert reported.sweeps.startswith("read 2 sweeps: ")
    assert reported.sweeps.endswith("FINISHED, added with [epochs=2])")
    assert reported.sweeps in (reported.out / "index.md").read_text()
    assert reported.sweeps in (reported.out / "leaderboard.md").read_text()


def test_the_leaderboard_keeps_both_recipes_apart(reported) -> None:
    board = pd.read_csv(reported.out / "leaderboard.csv")
    assert sorted(board["label"]) == ["baseline", "baseline [epochs=2]", "k_size=5", "k_size=5 [epochs=2]"]
    shown = (reported.out / "leaderboard.md").read_text()
    assert "baseline: attention=null [epochs=2]" in shown and "k_size=5 [epochs=2]" in shown


def test_the_ablation_table_uses_the_latest_recipe_and_says_so(reported) -> None:
    table = pd.read_csv(reported.out / "ablation_model_attention_kwargs_k_size.csv")
    means = dict(zip(table.iloc[:, 0].astype(str), table["mean"]))
    assert means == {"baseline": pytest.approx(51.0), "5": pytest.approx(54.5)}
    assert any("only the 4 runs of the latest sweep's recipe [epochs=2], not the 4 runs of the first recipe"
               in note for note in reported.notes)
