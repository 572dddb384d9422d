"""The description the sweep's parent run shows in the MLflow UI: the study's leaderboard.

Someone opening the experiment sees the answer (which configuration is best, by how much, over
how many seeds) without running ``orchestrate report``.
"""

from __future__ import annotations

from typing import Optional

from .formats import display_leaderboard, to_markdown
from .leaderboard import leaderboard

TOP_ROWS = 20  # a note is read in the UI's side panel; the full table is `orchestrate leaderboard`


def study_note(study: str, *, uri: Optional[str] = None) -> str:
    """Markdown: a heading, the top of the leaderboard and where to find the rest."""
    board = leaderboard(study, uri=uri)
    heading = f"### Study `{study}`: leaderboard\n\n"
    if board.empty:
        return heading + "No trial has finished yet."
    shown = display_leaderboard(board.head(TOP_ROWS))
    more = f"\n\n{len(board) - TOP_ROWS} more rows: " if len(board) > TOP_ROWS else "\n\nFull table: "
    return heading + to_markdown(shown) + more + f"`orchestrate leaderboard {study}`"
