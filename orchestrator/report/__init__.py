"""Reports built from MLflow runs: leaderboards (pandas DataFrames)."""

from .leaderboard import leaderboard

__all__ = ["leaderboard"]
