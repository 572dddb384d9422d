"""Which split and which epoch a report's numbers come from: one rule, stated once.

Every table says what its numbers are (DESIGN: "every table says which split and which epoch
rule it uses"). No number is selected on the split it is reported on:

- with ``data.val_split`` the best epoch is chosen on the held-out validation images and the
  headline is the test split's top-1 at that epoch (``SELECTED``);
- without it the headline is the final epoch's top-1 (``FINAL``): no epoch is chosen at all.

The best-over-epochs top-1 (``BEST``) picks its epoch on the split it reports, so it is shown
only beside the headline and labelled optimistic. Runs recorded before the final-epoch summary
existed have only ``BEST``, and their tables say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..tracking.names import SUMMARY_FINAL_TOP1, SUMMARY_TEST_AT_BEST, SUMMARY_TOP1

BASIS_COLUMN = "basis"  # the CSV column that carries the rule, on every row


@dataclass(frozen=True)
class Basis:
    """A headline number's origin: the per-run summary metric, its split and its epoch rule."""

    metric: str
    split: str
    epoch: str
    optimistic: bool
    rank_metric: str  # what configurations are ranked by: never the test split's number

    @property
    def label(self) -> str:
        """``val split, best epoch (optimistic)``: the CSV cell and the caption's core."""
        return f"{self.split} split, {self.epoch}" + (" (optimistic)" if self.optimistic else "")

    @property
    def caption(self) -> str:
        """The line under every Markdown table and in every LaTeX caption."""
        why = (f"; the epoch is chosen on the {self.split} split itself, so the numbers are optimistic"
               if self.optimistic else "")
        return f"Numbers: {self.label}{why}."


BEST = Basis(SUMMARY_TOP1, split="val", epoch="best epoch", optimistic=True, rank_metric=SUMMARY_TOP1)
FINAL = Basis(SUMMARY_FINAL_TOP1, split="val", epoch="final epoch", optimistic=False,
              rank_metric=SUMMARY_FINAL_TOP1)
SELECTED = Basis(SUMMARY_TEST_AT_BEST, split="test", epoch="epoch of the best held-out validation top-1",
                 optimistic=False, rank_metric=SUMMARY_TOP1)


def headline_of(runs: pd.DataFrame) -> Basis:
    """The rule a study's runs support: ``SELECTED`` when they held out a validation split,
    ``FINAL`` otherwise, ``BEST`` for runs that recorded neither."""
    for basis in (SELECTED, FINAL):
        if basis.metric in runs and runs[basis.metric].notna().any():
            return basis
    return BEST
