"""The trial config: what one trial trains (data, model and train sections).

The trainer's own input, above the leaf registries only (models, data ops, optimizers, LR
schedules): a config is validated once, where it is planned, and the trainer takes it without
loading the study schema, which adds search, resources and tracking on top (``spec/``).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, Optional

from pydantic import Field, model_validator

from ..errors import OptionError
from ..options import check_options
from .recipe import DataSpec, TrainSpec
from ..schema import OptionsModel, StrictModel, construct

if TYPE_CHECKING:  # torch is imported where a model is built, not with the schema
    import torch.nn as nn

TRIAL_SECTIONS = ("data", "model", "train")


class ModelSpec(OptionsModel):
    name: str = "resnet20"

    @model_validator(mode="after")
    def _known_model(self) -> ModelSpec:
        check_options("model", self.name, _model_options, self.options)
        _build_on_meta_device(self.name, self.options)
        return self


# The trainer passes these from the dataset; a spec cannot set them.
DATASET_SUPPLIED_OPTIONS = ("num_classes", "in_chans")


def _model_options(name: str) -> dict[str, Any] | None:
    import models

    params = models.model_options(name)
    return None if params is None else {k: v for k, v in params.items() if k not in DATASET_SUPPLIED_OPTIONS}


def _build_on_meta_device(name: str, options: dict[str, Any]) -> None:
    """Build the model without allocating memory, so an ill-typed option fails here, not in a
    trial. A pretrained one is built as the weights' lookup builds it: without fetching them."""
    try:
        meta_model(name, options)
    except (TypeError, ValueError, AssertionError, KeyError) as exc:
        raise OptionError("", f"{name} cannot be built with these options: {exc}") from None


def meta_model(name: str, options: dict[str, Any], channels: int = 3) -> nn.Module:
    """Model ``name`` built on the meta device for ``channels``-channel images (a pretrained one
    as the weights' lookup builds it: without fetching them). Cached: the options' check, the
    weights' input size and the input's check of a study's plans share a few builds, and a
    ResNeSt's build takes a tenth of a second. Callers only read it and run it on meta tensors."""
    return _meta_model(name, json.dumps(options, sort_keys=True, default=str), channels)


@functools.lru_cache(maxsize=64)
def _meta_model(name: str, options: str, channels: int) -> nn.Module:
    import warnings

    import torch

    import models

    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")  # torch's notes on meta tensors (a zero-element layer), not the spec's error
        return models.needed_weights(name, in_chans=channels, **json.loads(options))[1]


# What a forward at an input size the network cannot take raises: torch's shape mismatches
# (RuntimeError), timm's input-size asserts, a pooling window larger than the input (ValueError).
FORWARD_ERRORS = (RuntimeError, AssertionError, ValueError, IndexError, TypeError)


def forward_error(name: str, options: dict[str, Any], channels: int, side: int) -> Optional[str]:
    """Why model ``name`` cannot take a batch of ``channels`` x ``side`` x ``side`` images (None:
    it can, or the meta device cannot tell). Run on the meta device: shapes only, no memory and
    no arithmetic, so a 224 px forward costs what a 32 px one does."""
    return _forward_error(name, json.dumps(options, sort_keys=True, default=str), channels, side)


@functools.lru_cache(maxsize=256)  # a study's plans share a few (model, input) pairs
def _forward_error(name: str, options: str, channels: int, side: int) -> Optional[str]:
    import warnings

    import torch

    try:
        model = _meta_model(name, options, channels)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            model.eval()  # shapes are the same in either mode; eval skips batch norm's statistics
            model(torch.empty(2, channels, side, side, device="meta"))
    except NotImplementedError:  # an op without a meta kernel: only a real forward would tell
        return None
    except FORWARD_ERRORS as exc:
        text = str(exc).strip()
        if "meta" in text:  # a value the meta device does not hold (``.item()``): not the input's fault
            return None
        return text.splitlines()[0] if text else type(exc).__name__
    return None


class TrialConfig(StrictModel):
    """What one trial trains: the part of a spec that search keys may vary."""

    data: DataSpec = Field(default_factory=DataSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)

    @model_validator(mode="after")
    def _coherent(self) -> TrialConfig:
        if self.train.mixup is not None and self.data.batch_size % 2:
            raise OptionError("data.batch_size", "mixup/cutmix mixes pairs of images: use an even batch size")
        self.data.try_augmentation(pretrained=bool(self.model.options.get("pretrained")))
        self._try_model_input()
        return self

    def _try_model_input(self) -> None:
        """Run the model on the input its trials feed it, where the spec tells that input: a
        network that cannot take the size (attention tables sized for 224 px, a patch grid) is
        refused here, rather than failing every trial at its first batch."""
        from ..data import stored_input_size

        pretrained = bool(self.model.options.get("pretrained"))
        weights = {}
        if pretrained and self.data.image_size is None:
            weights = getattr(meta_model(self.model.name, self.model.options), "pretrained_cfg", {})
        stored = stored_input_size(self.data.dataset, self.data.options)
        side = self.data.resize_side(pretrained, weights) or (stored and stored[-1])
        if not side:  # only the image files know it
            return
        why = forward_error(self.model.name, self.model.options, stored[0] if stored else 3, side)
        if why:
            source = ("data.image_size" if self.data.image_size else
                      "its weights' input size" if pretrained else f"{self.data.dataset}'s images as stored")
            raise OptionError("model.name", f"{self.model.name} cannot run on {side} px inputs ({source}): {why}")

    @classmethod
    def of_plan(cls, config: TrialConfig | dict[str, Any]) -> TrialConfig:
        """A config the driver validated when it planned the trial, read without validating it
        again (every value is checked once, on the driver)."""
        return config if isinstance(config, cls) else construct(cls, config)
