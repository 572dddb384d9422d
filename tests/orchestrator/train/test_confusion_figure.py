"""The confusion-matrix PNG of a trial: drawn once per list of class names and blitted after,
with the pixels a full draw gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from orchestrator.train.report import ConfusionFigure, plot_confusion

NAMES = tuple(f"class {i}" for i in range(12))


def _confusion(seed: int) -> pd.DataFrame:
    counts = np.random.default_rng(seed).integers(0, 20, size=(len(NAMES), len(NAMES)))
    return pd.DataFrame(counts, index=pd.Index(NAMES, name="true"), columns=pd.Index(NAMES, name="predicted"))


def _fully_drawn(confusion: pd.DataFrame) -> np.ndarray:
    figure = ConfusionFigure(NAMES, NAMES)
    counts = confusion.to_numpy().astype(float)
    figure.image.set_data(counts / counts.sum(axis=1, keepdims=True).clip(min=1))
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    assert (rgba[..., 3] == 255).all()  # opaque: the PNG keeps the colour channels only
    return rgba[..., :3]


def test_a_kept_figure_draws_each_matrix_as_a_full_draw_would(tmp_path) -> None:
    plot_confusion(_confusion(0), tmp_path / "first.png")  # draws the figure and keeps it
    plot_confusion(_confusion(1), tmp_path / "second.png")  # only its image redrawn
    first, second = (np.asarray(Image.open(tmp_path / name)) for name in ("first.png", "second.png"))
    assert np.array_equal(first, _fully_drawn(_confusion(0)))
    assert np.array_equal(second, _fully_drawn(_confusion(1)))
    assert not np.array_equal(first, second)


def test_other_class_names_get_a_figure_of_their_own(tmp_path) -> None:
    plot_confusion(_confusion(0), tmp_path / "twelve.png")
    three = _confusion(2).iloc[:3, :3]
    plot_confusion(three, tmp_path / "three.png")
    with Image.open(tmp_path / "twelve.png") as twelve, Image.open(tmp_path / "three.png") as small:
        assert small.size[0] < twelve.size[0]
