"""Reports built from MLflow runs: leaderboards, ablation tables and group summaries as pandas
DataFrames, their CSV/Markdown/LaTeX renderings, and the plots of a study report."""

from .ablation import ablation_table, ablation_tables
from .leaderboard import leaderboard

__all__ = ["ablation_table", "ablation_tables", "leaderboard"]
