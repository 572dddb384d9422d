"""The trial config: what one trial trains (data, model and train sections).

The trainer's own input, above the leaf registries only (models, data ops, optimizers, LR
schedules): a config is validated once, where it is planned, and the trainer takes it without
loading the study schema, which adds search, resources and tracking on top (``spec/``).
"""

from __future__ import annotations

import functools
import json
from typing import Any, Optional

from pydantic import Field, model_validator

from ..errors import OptionError
from ..options import check_options
from .recipe import DataSpec, TrainSpec
from ..schema import OptionsModel, StrictModel, construct

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
    import warnings

    import models

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on meta tensors (a zero-element layer), not the spec's error
            models.needed_weights(name, **options)
    except (TypeError, ValueError, AssertionError, KeyError) as exc:
        raise OptionError("", f"{name} cannot be built with these options: {exc}") from None


def forward_error(name: str, options: dict[str, Any], channels: int, side: int) -> Optional[str]:
    """Why model ``name`` cannot take a batch of ``channels`` x ``side`` x ``side`` images (None:
    it can, or the meta device cannot tell). Built and run on the meta device: shapes only, no
    memory and no arithmetic, so a 224 px forward costs what a 32 px one does."""
    return _forward_error(name, json.dumps(options, sort_keys=True), channels, side)


@functools.lru_cache(maxsize=256)  # a study's plans share a few (model, input) pairs
def _forward_error(name: str, options: str, channels: int, side: int) -> Optional[str]:
    import warnings

    import torch

    import models

    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")  # torch's notes on meta tensors, not the spec's error
            models.needed_weights(name, in_chans=channels, **json.loads(options))[1](
                torch.empty(2, channels, side, side))
    except NotImplementedError:  # an op without a meta kernel: only a real forward would tell
        return None
    except (RuntimeError, AssertionError, ValueError, IndexError) as exc:
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
            import models

            weights = getattr(models.needed_weights(self.model.name, **self.model.options)[1], "pretrained_cfg", {})
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
