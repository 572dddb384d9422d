"""Configuration names on a figure's axis or legend: short enough to leave the plot its width."""

from __future__ import annotations

import numpy as np

TICK_WIDTH = 60  # characters per line of an axis's configuration name
TICK_POINTS = (5.0, 10.0)  # the smallest and largest font of those names
WHOLE_NAMES = "configuration"  # the axis's label when its ticks are whole names


def config_ticks(names: list[str]) -> tuple[list[str], str]:
    """Axis ticks for configuration names, and the axis's label.

    Names that set the same keys in the same order (an Optuna study's ``lr=0.07572,
    weight_decay=0.0002694,...``) become their values alone, the keys moving to the axis's label:
    on one line each, whole names squeeze the plot beside them to a sliver and push the title
    past the figure's edge. Other names are broken after their commas onto short lines.
    """
    pairs = [[part.partition("=") for part in name.split(",")] for name in names]
    keys = {tuple(key for key, _, _ in parts) for parts in pairs}
    if len(keys) == 1 and all(sep and "=" not in value for parts in pairs for _, sep, value in parts):
        return [", ".join(value for _, _, value in parts) for parts in pairs], ", ".join(keys.pop())
    return [_wrapped(name) for name in names], WHOLE_NAMES


def _wrapped(name: str) -> str:
    lines = [""]
    for part in name.split(","):
        if lines[-1] and len(lines[-1]) + len(part) + 1 > TICK_WIDTH:
            lines[-1] += ","
            lines.append(part)
        else:
            lines[-1] += ("," if lines[-1] else "") + part
    return "\n".join(lines)


def tick_points(ticks: list[str], height: int, dpi: int) -> float:
    """A font size at which ``ticks``, one per row, fit ``height`` pixels without overlapping:
    twenty configurations of two lines each need a smaller font than four one-word levels."""
    lines = max((tick.count("\n") + 1 for tick in ticks), default=1)
    row = 0.7 * height / max(len(ticks), 1)  # the axes, less their margins, take ~70% of the height
    return float(np.clip(row / lines / (1.3 * dpi / 72), *TICK_POINTS))  # a line is ~1.3 font sizes high
