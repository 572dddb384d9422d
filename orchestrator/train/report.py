"""End-of-training analysis as data: per-class accuracy, confusion matrix, the best and worst
classes (seed 004's error analysis), parameters and MACs. The trainer returns a
:class:`FinalReport`; whoever tracks the run decides where its files go (``write``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

EXTREMES = 5  # how many best and worst classes the report names


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

    Drawn on a bare ``Figure`` (no pyplot state to close) with margins sized from the longest
    class name: ``tight_layout`` would lay every label out twice, and a sweep of short trials
    draws one of these per trial (0.16 -> 0.13 s at 10 classes, 0.6 -> 0.35 s at 100)."""
    from matplotlib.figure import Figure  # the Agg canvas: files only, never a window

    counts = confusion.to_numpy().astype(float)
    rates = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    size = min(4 + 0.25 * len(confusion), 24)
    named = len(confusion) <= 30
    longest = max(len(str(name)) for name in [*confusion.index, *confusion.columns]) if named else 0
    margin = min((0.6 + 0.085 * longest) / size, 0.45)  # axis title and tick labels, as a fraction
    fig = Figure(figsize=(size, size))
    fig.subplots_adjust(left=margin, bottom=margin, right=0.92, top=0.97)
    ax = fig.add_subplot()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of the true class")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if named:
        ax.set_xticks(range(len(confusion)), confusion.columns, rotation=90)
        ax.set_yticks(range(len(confusion)), confusion.index)
    fig.savefig(path, dpi=100)
