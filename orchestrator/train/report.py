"""End-of-training analysis as data: per-class accuracy, confusion matrix, the best and worst
classes (seed 004's error analysis), parameters and MACs. The trainer returns a
:class:`FinalReport`; whoever tracks the run decides where its files go (``write``)."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

EXTREMES = 5  # how many best and worst classes the report names
DPI = 100  # the confusion-matrix PNG's
PNG_COMPRESSION = 1  # zlib's level for it: encoding time, not size, is what a short trial pays


@dataclass
class FinalReport:
    """What a finished run tells about its final weights (``epoch``) on the validation split."""

    epoch: int
    best_top1: float
    best_epoch: int
    top5_at_best: float
    per_class: pd.DataFrame  # class, name, images, correct, accuracy (%)
    confusion: pd.DataFrame  # rows: true class name, columns: predicted class name, counts
    params: int
    trainable_params: int
    macs: int
    stopped_early: bool = False

    @property
    def best_classes(self) -> pd.DataFrame:
        return self.per_class.sort_values(["accuracy", "class"], ascending=[False, True]).head(EXTREMES)

    @property
    def worst_classes(self) -> pd.DataFrame:
        return self.per_class.sort_values(["accuracy", "class"], ascending=[True, True]).head(EXTREMES)

    def summary(self) -> dict[str, float]:
        """Flat numbers, e.g. for run-level metrics."""
        return {
            "final/epoch": float(self.epoch), "final/best_top1": self.best_top1,
            "final/best_epoch": float(self.best_epoch), "final/top5_at_best": self.top5_at_best,
            "final/top1": float(100.0 * self.per_class["correct"].sum() / max(self.per_class["images"].sum(), 1)),
            "final/params": float(self.params), "final/trainable_params": float(self.trainable_params),
            "final/macs": float(self.macs), "final/stopped_early": float(self.stopped_early),
        }

    def write(self, folder: str | Path) -> list[Path]:
        """CSV tables, a confusion-matrix PNG and a JSON summary in ``folder``; returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {name: folder / name for name in (
            "per_class_accuracy.csv", "confusion_matrix.csv", "best_worst_classes.csv",
            "confusion_matrix.png", "summary.json")}
        self.per_class.to_csv(paths["per_class_accuracy.csv"], index=False)
        self.confusion.to_csv(paths["confusion_matrix.csv"])
        extremes = pd.concat([self.best_classes.assign(rank="best"), self.worst_classes.assign(rank="worst")])
        extremes.to_csv(paths["best_worst_classes.csv"], index=False)
        plot_confusion(self.confusion, paths["confusion_matrix.png"])
        paths["summary.json"].write_text(json.dumps(self.summary(), indent=2))
        return list(paths.values())


def class_tables(labels: torch.Tensor, predictions: torch.Tensor,
                 class_names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-class accuracy, confusion matrix) from true labels and predicted classes."""
    count = len(class_names)
    matrix = torch.bincount(labels * count + predictions, minlength=count * count).view(count, count)
    images = matrix.sum(dim=1)
    correct = matrix.diagonal()
    accuracy = torch.where(images > 0, 100.0 * correct / images.clamp_min(1), torch.nan)
    per_class = pd.DataFrame({
        "class": range(count), "name": class_names, "images": images.tolist(),
        "correct": correct.tolist(), "accuracy": accuracy.tolist(),
    })
    confusion = pd.DataFrame(matrix.numpy(), index=pd.Index(class_names, name="true"),
                             columns=pd.Index(class_names, name="predicted"))
    return per_class, confusion


def plot_confusion(confusion: pd.DataFrame, path: Path) -> None:
    """Row-normalised confusion matrix as an image; class names on the axes up to 30 classes.

    A sweep of short trials draws one per trial, nearly all with the same class names: the axes,
    labels and colour bar are drawn once per process and kept (:class:`ConfusionFigure`), and
    each later matrix redraws only its image over them (0.08 -> 0.02 s at 10 classes)."""
    rates = confusion.to_numpy().astype(float)
    rates /= rates.sum(axis=1, keepdims=True).clip(min=1)
    with _DRAWING:
        _figure_for(tuple(map(str, confusion.index)), tuple(map(str, confusion.columns))).save(rates, path)


class ConfusionFigure:
    """A confusion-matrix figure for one list of class names, drawn in full once; later matrices
    are blitted: the kept background restored, the image and the axes' frame drawn on it
    (Matplotlib's own way of redrawing one artist), which gives the pixels a full draw gives.

    Drawn on a bare ``Figure`` (no pyplot state, the Agg canvas: files only, never a window) with
    margins sized from the longest class name: ``tight_layout`` would lay every label out twice."""

    def __init__(self, true_names: tuple[str, ...], predicted_names: tuple[str, ...]) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        count = len(true_names)
        size = min(4 + 0.25 * count, 24)
        named = count <= 30
        longest = max(len(name) for name in [*true_names, *predicted_names]) if named else 0
        margin = min((0.6 + 0.085 * longest) / size, 0.45)  # axis title and tick labels, as a fraction
        self.figure = Figure(figsize=(size, size), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=margin, bottom=margin, right=0.92, top=0.97)
        self.axes = self.figure.add_subplot()
        self.image = self.axes.imshow(np.zeros((count, count)), cmap="Blues", vmin=0, vmax=1)
        self.figure.colorbar(self.image, ax=self.axes, fraction=0.046, label="fraction of the true class")
        self.axes.set_xlabel("predicted")
        self.axes.set_ylabel("true")
        if named:
            self.axes.set_xticks(range(count), predicted_names, rotation=90)
            self.axes.set_yticks(range(count), true_names)
        self.drawn_each_time = [self.image, *self.axes.spines.values()]  # the frame lies over the image's edge
        for artist in self.drawn_each_time:
            artist.set_visible(False)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        for artist in self.drawn_each_time:
            artist.set_visible(True)

    def save(self, rates: np.ndarray, path: Path) -> None:
        from PIL import Image

        self.image.set_data(rates)
        self.canvas.restore_region(self.background)
        for artist in self.drawn_each_time:
            self.axes.draw_artist(artist)
        # The figure is opaque, so RGB keeps every pixel; zlib's fastest level with Pillow's row
        # filters makes a file 1.1x the size of Matplotlib's default in half the time (11 -> 6 ms
        # of every short trial, docs/performance.md).
        pixels = Image.fromarray(np.asarray(self.canvas.buffer_rgba())).convert("RGB")
        pixels.save(path, format="png", compress_level=PNG_COMPRESSION, dpi=(DPI, DPI))


_DRAWING = threading.Lock()  # one figure per process, drawn by whichever trial thread asks


@functools.lru_cache(maxsize=1)
def _figure_for(true_names: tuple[str, ...], predicted_names: tuple[str, ...]) -> ConfusionFigure:
    return ConfusionFigure(true_names, predicted_names)
