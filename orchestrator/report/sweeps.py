"""Which sweeps a report read, and which of their runs a table built on one design may use.

A study normally holds one base recipe; ``--add-to-study`` adds sweeps of another, whose runs
carry the differing keys in their labels (`` [epochs=2]``). The leaderboard shows every run with
its label; an ablation table follows the latest sweep's design, so it takes only the runs of
that sweep's recipe, and the report says so instead of mixing or dropping runs silently.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd

from ..labels import recipe_of, recipe_suffix
from .runs import StudyRuns


def sweeps_read(sweeps: pd.DataFrame) -> str:
    """``read 2 sweeps: 1a2b3c4d (2026-11-29 23:40, FINISHED), 5e6f... (..., added with epochs=2)``."""
    described = []
    for sweep in sweeps.itertuples(index=False):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(sweep.start_time / 1000))
        added = f", added with {recipe_suffix(sweep.added).strip()}" if sweep.added else ""
        described.append(f"{sweep.run_id[:8]} ({when}, {sweep.status}{added})")
    return f"read {len(described)} sweeps: {', '.join(described) or 'none'}"


def latest_recipe(runs: StudyRuns, sweeps: pd.DataFrame) -> tuple[StudyRuns, list[str]]:
    """The runs of the latest sweep's base recipe, labelled without the recipe suffix, and a note
    when the study holds runs of other recipes that the design's tables therefore leave out."""
    suffix = recipe_suffix(sweeps["added"].iloc[-1]) if len(sweeps) else ""
    recipes = runs.frame["label"].fillna("").map(recipe_of)
    frame = runs.frame[recipes == suffix].copy()
    frame["label"] = frame["label"].str.removesuffix(suffix) if suffix else frame["label"]
    others = sorted(set(recipes) - {suffix})
    notes = [] if not others else [
        f"the study mixes base configurations: ablation tables use only the {len(frame)} runs of the latest "
        f"sweep's recipe{suffix or ' (the study’s first)'}, not the {len(runs.frame) - len(frame)} runs of "
        f"{', '.join(o.strip() or 'the first recipe' for o in others)}"]
    return replace(runs, frame=frame, read=len(frame)), notes
