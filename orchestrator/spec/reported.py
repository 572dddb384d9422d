"""A report's own numbers per row: what a study that reruns a published table compares with.

The seed reports give one top-1 per row, most of them the best epoch's test accuracy (seed
000's "Best Acc", seed 002's "best accuracy", seed 004's early stopping), some the final epoch's
as well. A number is only comparable with ours of the same rule, so each number names its
basis, and the report puts it beside our mean of that basis, never beside our headline of
another one:

    reported:
      source: seed 000, table 3
      basis: final_epoch          # of the rows given as plain numbers
      rows:
        resnet: {final_epoch: 49.30, best_epoch: 49.75}
        vit: {best_epoch: 53.62, note: only a best accuracy is given}

Row keys are the labels the leaderboard shows: variant names, or an ablation's ``baseline`` and
factor-level labels (``k_size=3``); a key that names no row of the study is refused.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from ..errors import OptionError, SpecError
from ..schema import StrictModel

ReportedBasis = Literal["best_epoch", "final_epoch", "validation_chosen"]
BASES: tuple[str, ...] = ReportedBasis.__args__  # type: ignore[attr-defined]


class ReportedRow(StrictModel):
    """One row's numbers (top-1, %), by the epoch rule each was read with."""

    best_epoch: Optional[float] = Field(None, ge=0, le=100, description="best top-1 over epochs, on the reported split")
    final_epoch: Optional[float] = Field(None, ge=0, le=100, description="the last epoch's top-1")
    validation_chosen: Optional[float] = Field(
        None, ge=0, le=100, description="test top-1 at the epoch a held-out validation split chose")
    note: Optional[str] = Field(None, description="where the number is ambiguous or contradicts the report")

    @model_validator(mode="after")
    def _has_a_number(self) -> ReportedRow:
        if not self.numbers():
            raise ValueError(f"give at least one number: {', '.join(BASES)}")
        return self

    def numbers(self) -> dict[str, float]:
        """Basis -> number, for the bases the report gives."""
        return {basis: getattr(self, basis) for basis in BASES if getattr(self, basis) is not None}


class ReportedSpec(StrictModel):
    """A published table's numbers for the study's rows."""

    source: str = Field(..., min_length=1, description="which report and table, e.g. 'seed 003, table 1'")
    basis: Optional[ReportedBasis] = Field(None, description="the basis of rows given as plain numbers")
    rows: dict[str, ReportedRow] = Field(..., min_length=1, description="row label -> its number(s)")

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, data: Any) -> Any:
        """``label: 70.12`` is short for ``label: {<reported.basis>: 70.12}``."""
        if not isinstance(data, dict) or not isinstance(data.get("rows"), dict):
            return data
        rows = {}
        for label, value in data["rows"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if data.get("basis") not in BASES:
                    raise OptionError(f"rows.{label}", f"a plain number needs reported.basis (one of: "
                                                       f"{', '.join(BASES)}), or write {{basis: number}}")
                value = {data["basis"]: value}
            rows[label] = value
        return {**data, "rows": rows}

    def numbers(self) -> list[dict[str, object]]:
        """One record per (row, basis): what the study's parent run carries (``reported.json``)."""
        return [{"label": label, "basis": basis, "top1": number, "note": row.note, "source": self.source}
                for label, row in self.rows.items() for basis, number in row.numbers().items()]


def check_rows(reported: Optional[ReportedSpec], labels: Optional[list[str]]) -> None:
    """Every reported key names a row of the study (``labels``: its planned rows, None for a
    design that proposes rows while it runs); one line naming the key and the rows."""
    if reported is None:
        return
    if labels is None:
        raise SpecError("reported: this study proposes its rows while it runs; reported numbers need "
                        "fixed rows (kind: variants, ablation or grid)")
    rows = list(dict.fromkeys(labels))
    for key in reported.rows:
        if key not in rows:
            raise SpecError(f"reported.rows.{key}: not a row of this study (rows: {', '.join(rows)})")
