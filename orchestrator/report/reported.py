"""A published table's numbers beside ours, each beside our mean of the same epoch rule.

The spec's ``reported`` section travels on the sweep's parent run (``reported.json``). A seed's
best-epoch number is set beside our best-epoch mean (optimistic, as the seed's is), a final-epoch
number beside our final-epoch mean: a difference between numbers of two rules would measure the
rule, not the rerun. Every table that shows them says which rule each pair uses.
"""

from __future__ import annotations

from typing import Iterable, Optional

import pandas as pd

from ..tracking.names import REPORTED_FILE
from ..tracking.latest import study_file
from .basis import BEST, FINAL, SELECTED, Basis
from .runs import StudyRuns

# The report's rule -> our per-run number read with the same rule.
OURS: dict[str, Basis] = {"best_epoch": BEST, "final_epoch": FINAL, "validation_chosen": SELECTED}
KEYS = ["study", "label"]
COLUMNS = ["study", "label", "basis", "reported", "ours_mean", "ours_std", "ours_n", "delta", "ours_metric",
           "note", "source"]


def reported_numbers(studies: Iterable[str], *, uri: Optional[str] = None) -> pd.DataFrame:
    """One record per (study, row, basis) from each study's latest sweep run; empty when none."""
    records = []
    for study in studies:
        section = study_file(study, REPORTED_FILE, uri=uri)
        for label, row in (section or {}).get("rows", {}).items():
            row = row if isinstance(row, dict) else {section["basis"]: row}  # ``label: 70.12`` shorthand
            records += [{"study": study, "label": label, "basis": basis, "reported": row[basis],
                         "note": row.get("note"), "source": section["source"]}
                        for basis in OURS if row.get(basis) is not None]
    return pd.DataFrame(records, columns=["study", "label", "basis", "reported", "note", "source"])


def compare(runs: StudyRuns, numbers: pd.DataFrame) -> pd.DataFrame:
    """Each reported number with our finished runs' mean and std of the same basis, and
    ``delta`` = ours - reported (positive: the rerun beats the report)."""
    if numbers.empty:
        return pd.DataFrame(columns=COLUMNS)
    finished = runs.finished
    rows = []
    for record in numbers.itertuples(index=False):
        metric = OURS[record.basis].metric
        ours = finished.loc[(finished["study"] == record.study) & (finished["label"] == record.label)]
        values = ours[metric].dropna() if metric in ours else pd.Series(dtype=float)
        mean = values.mean() if len(values) else float("nan")
        rows.append({**record._asdict(), "ours_mean": mean, "ours_std": values.std(ddof=1),
                     "ours_n": len(values), "delta": mean - record.reported, "ours_metric": metric})
    return pd.DataFrame(rows)[COLUMNS]


def beside_board(board: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard with, per basis the report uses, ``reported_<basis>``, ``ours_<basis>``
    and ``delta_<basis>`` columns (the leaderboard's own columns are left as they are)."""
    if table.empty:
        return board
    wide = table.pivot_table(index=KEYS, columns="basis", values=["reported", "ours_mean", "delta"],
                             aggfunc="first", dropna=False)
    wide.columns = [f"{'ours' if value == 'ours_mean' else value}_{basis}" for value, basis in wide.columns]
    order = [f"{value}_{basis}" for basis in OURS if basis in set(table["basis"])
             for value in ("reported", "ours", "delta")]
    return board.merge(wide[order].reset_index(), on=KEYS, how="left")


def reported_of(board: pd.DataFrame) -> pd.DataFrame:
    """The comparison a leaderboard was built with (``compare``'s table), one row per number."""
    return pd.DataFrame(board.attrs.get("reported", []), columns=COLUMNS)


def caption(table: pd.DataFrame) -> str:
    """Which rule each reported number is compared under; empty without reported numbers."""
    if table.empty:
        return ""
    sources = "; ".join(dict.fromkeys(table["source"]))
    pairs = "; ".join(f"{basis.replace('_', '-')} numbers beside our {OURS[basis].label} mean"
                      for basis in OURS if basis in set(table["basis"]))
    return f"Reported ({sources}): {pairs}; Δ = ours - reported."


def display_reported(table: pd.DataFrame) -> pd.DataFrame:
    """One line per reported number: the row, its rule, the report's number, ours, Δ."""
    from .formats import mean_std, number, render

    return render(table, {
        "row": lambda r: r["label"],
        "rule": lambda r: f"{r['basis'].replace('_', '-')} (ours: {OURS[r['basis']].label})",
        "reported (%)": lambda r: number(r["reported"]),
        "ours (%)": lambda r: mean_std(r["ours_mean"], r["ours_std"]),
        "n": lambda r: str(int(r["ours_n"])),
        "Δ": lambda r: number(r["delta"], signed=True),
        "note": lambda r: "" if pd.isna(r["note"]) else r["note"],
    })
