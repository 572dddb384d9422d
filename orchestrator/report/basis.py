"""Which split and which epoch a report's numbers come from: one rule, stated once.

Every table says what its numbers are (DESIGN: "every table says which split and which epoch
rule it uses"). Today each seed's headline is its best validation top-1 over epochs, and the
epoch is chosen on that same split, so the number is optimistic: it peeks. The rule lives here,
in ``HEADLINE``, so switching the headline to the final epoch or to a validation-selected test
number changes this constant (and the summary metric it names) and every caption follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..tracking.names import SUMMARY_TOP1

BASIS_COLUMN = "basis"  # the CSV column that carries the rule, on every row


@dataclass(frozen=True)
class Basis:
    """A headline number's origin: the per-run summary metric, its split and its epoch rule."""

    metric: str
    split: str
    epoch: str
    optimistic: bool

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


HEADLINE = Basis(metric=SUMMARY_TOP1, split="val", epoch="best epoch", optimistic=True)
