"""The projection's rows, read from the study spec a user would run: loaded by the normal spec loader
and expanded by its design, one row per configuration (its first seed), with the row's model and
options, batch, input size, optimizer and precision. A row changed in the spec is a row changed
here; nothing is copied.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Optional

import models

from ..designs import get_design
from ..spec.loading import resolve_spec_path
from ..study import load_spec
from .projection import Row
from .workload import TRAIN_KEYS, frozen, timed_model_options

STUDY = "studies/cifar100_backbone_comparison.yaml"
# Section 2's packing workloads: small, middle and large CNNs at 32 px (zoo names; a test checks them).
PACKING_MODELS = ("resnet20", "resnet56", "densenet121_cifar")
STORED_SIZE = 32  # CIFAR's images as held on the device


def study_configs(path: str = STUDY) -> dict[str, dict[str, Any]]:
    """label -> the resolved trial config of that row's first seed, in the design's order."""
    spec = load_spec(resolve_spec_path(path))
    configs: dict[str, dict[str, Any]] = {}
    for plan in get_design(spec.search.kind).expand(spec):
        configs.setdefault(plan.label, plan.config)
    return configs


def input_size(label: str, config: dict[str, Any]) -> int:
    """What the trainer feeds the row: ``data.image_size``, else the images as stored (no resize).
    A pretrained row without one would get its weights' size, which only its weights know."""
    data, model = config["data"], config["model"]
    if data.get("image_size"):
        return int(data["image_size"])
    if model.get("pretrained"):
        raise ValueError(f"search.variants.{label}: a pretrained model without data.image_size takes its "
                         "weights' input size; state the size in the row")
    return STORED_SIZE


@functools.cache
def _params(name: str, options: tuple[tuple[str, Any], ...] = ()) -> int:
    model = models.create_model(name, num_classes=100, **dict(options))
    return sum(p.numel() for p in model.parameters())


def packs_like(model: str, options: dict[str, Any], size: int,
               references: dict[str, int]) -> Optional[str]:
    """The packing model nearest in parameters (log scale) for a 32-px row; None for a resized row."""
    if size != STORED_SIZE:
        return None
    count = _params(model, tuple(sorted(options.items())))
    return min(references, key=lambda name: abs(math.log(count / references[name])))


def study_rows(path: str = STUDY, labels: Optional[tuple[str, ...]] = None) -> tuple[Row, ...]:
    """Every row of the study (or those of ``labels``), as the projection trains them."""
    configs = study_configs(path)
    references = {name: _params(name) for name in PACKING_MODELS}
    rows = []
    for label, config in configs.items():
        if labels is not None and label not in labels:
            continue
        model = config["model"]
        options = timed_model_options(model)
        size = input_size(label, config)
        train = tuple((key, frozen(config["train"][key])) for key in TRAIN_KEYS)
        rows.append(Row(label, model["name"], size, packs_like(model["name"], options, size, references),
                        int(config["data"]["batch_size"]), tuple(sorted(options.items())), train))
    return tuple(rows)
