"""The trial config: what one trial trains (data, model and train sections).

The trainer's own input, above the leaf registries only (models, data ops, optimizers, LR
schedules): a config is validated once, where it is planned, and the trainer takes it without
loading the study schema, which adds search, resources and tracking on top (``spec/``).
"""

from __future__ import annotations

from typing import Any

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
        return self

    @classmethod
    def of_plan(cls, config: TrialConfig | dict[str, Any]) -> TrialConfig:
        """A config the driver validated when it planned the trial, read without validating it
        again (every value is checked once, on the driver)."""
        return config if isinstance(config, cls) else construct(cls, config)
