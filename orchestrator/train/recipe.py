"""The ``data`` and ``train`` sections of a spec: the dataset pipeline and the training recipe.

Every option is checked here, before anything runs: augmentation lists are built, optimizer and
scheduler options are matched against their builders, metric names against the trainer's.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from ..data.registry import ImageSide
from ..errors import OptionError
from ..options import check_options
from ..schema import OptionsModel, StrictModel
from ..tracking.names import TOP1

# Op names or mappings; each item is checked by ``build_augmentation``, which names its index and
# the ops allowed (a typed item here would be refused as "should be a valid string").
AugmentList = list[Any]
ASSUMED_SIDE = 32  # the side the augmentation is tried at where only the image files know it
PRETRAINED_INPUT_SIZE = 224  # when pretrained weights do not say (torchvision's ImageNet models)


def _check_metric(metric: str, key: str) -> None:
    from .metrics import EPOCH_METRICS

    if metric not in EPOCH_METRICS:
        raise OptionError(key, f"unknown metric {metric!r}; allowed: {', '.join(EPOCH_METRICS)}")


class DataSpec(StrictModel):
    dataset: str = "digits"
    root: Optional[str] = Field(None, description="dataset cache; default $ORCHESTRATE_DATA")
    download: bool = True
    augment: Union[str, AugmentList] = Field("standard", description="a preset name or a list of ops")
    augment_mode: Literal["always", "alternate", "concat"] = Field(
        "always", description="alternate: augmented and original epochs in turn; concat: both each epoch")
    image_size: Optional[ImageSide] = Field(
        None, description="resize to this square size; default: the pretrained weights' size, else none")
    normalize: Literal["auto", "dataset", "imagenet"] = Field(
        "auto", description="auto: the pretrained weights' statistics for a pretrained model, else the dataset's")
    batch_size: int = Field(128, ge=1)
    eval_batch_size: int = Field(512, ge=1)
    subset: Optional[int] = Field(None, ge=1, description="train on a seeded random subset")
    label_fraction: Optional[float] = Field(
        None, gt=0, le=1, description="train the classifier on this stratified fraction of the labels")
    val_split: Optional[float] = Field(
        None, gt=0, lt=1, description="validate on this stratified fraction of the training set (the best "
                                      "epoch is chosen there) and report the validation split as test")
    split_seed: int = Field(0, ge=0, description="seeds the held-out and labelled-fraction splits "
                                                 "(fixed across repeats)")
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_dataset_and_augmentation(self) -> DataSpec:
        from ..data import build_augmentation, dataset_options

        check_options("dataset", self.dataset, dataset_options, self.options, key="options", name_key="dataset",
                      required=True)
        try:
            build_augmentation(self.augment)
        except OptionError as exc:
            raise OptionError(".".join(p for p in ("augment", exc.subpath) if p), str(exc)) from None
        return self

    def resize_side(self, pretrained: bool, weights: dict[str, Any]) -> Optional[int]:
        """The square side images are resized to (None: as stored): ``image_size``, else for a
        pretrained model its weights' input size (``pretrained_cfg``, else ImageNet's 224)."""
        if self.image_size is None and pretrained:
            return int(weights.get("input_size", (0, PRETRAINED_INPUT_SIZE))[-1])
        return self.image_size

    def try_augmentation(self, pretrained: bool) -> None:
        """Run the augmentation once on 2 images of the size the trial feeds it: ``image_size``,
        else the dataset's stored size. What an op's constructor cannot know (a crop larger than
        the padded image) is refused here, with the op's index, rather than at the first batch of
        a running trial. A pretrained model without ``image_size`` gets its weights' size (384 for
        some), known once the model is built: not tried, so that no valid crop is refused."""
        from ..data import build_augmentation, stored_input_size, try_augmentation

        if pretrained and self.image_size is None:
            return
        stored = stored_input_size(self.dataset, self.options)
        side = self.image_size or (stored and stored[-1])
        try:
            try_augmentation(build_augmentation(self.augment), side or ASSUMED_SIDE, stored[0] if stored else 3)
        except OptionError as exc:
            assumed = "" if side else f" ({ASSUMED_SIDE} px assumed: set data.image_size to the images' size)"
            raise OptionError(f"data.augment.{exc.subpath}", f"{exc}{assumed}") from None


class OptimizerSpec(OptionsModel):
    name: str = "sgd"
    lr: float = Field(0.1, gt=0)
    weight_decay: float = Field(5e-4, ge=0)
    no_decay_norm_bias: bool = Field(False, description="no weight decay on norm weights and biases")
    backbone_lr_scale: float = Field(
        1.0, ge=0, le=1, description="backbone LR = lr * scale (head: get_classifier()); 0 freezes it")

    @model_validator(mode="after")
    def _known_optimizer(self) -> OptimizerSpec:
        from .recipes import optimizer_options

        check_options("optimizer", self.name, optimizer_options, self.options)
        return self


class LrScheduleSpec(OptionsModel):
    name: str = "cosine"
    warmup_epochs: int = Field(0, ge=0)
    interval: Optional[Literal["epoch", "step"]] = Field(
        None, description="step per epoch or per batch; default: what the schedule is defined by")

    @model_validator(mode="after")
    def _known_scheduler(self) -> LrScheduleSpec:
        from .lr_schedules import LR_SCHEDULES, scheduler_options

        check_options("scheduler", self.name, scheduler_options, self.options)
        kind = LR_SCHEDULES[self.name]
        if self.warmup_epochs and not kind.warmup:
            raise OptionError("warmup_epochs", f"scheduler {self.name} does not take a separate warm-up")
        if self.interval and self.interval not in kind.intervals:
            raise OptionError("interval", f"scheduler {self.name} steps per {' or '.join(kind.intervals)}")
        if "metric" in self.options:
            _check_metric(self.options["metric"], "metric")
        return self


class MixupSpec(StrictModel):
    """timm's Mixup/CutMix: per batch, mixup with probability ``prob``, cutmix instead with
    ``switch_prob`` when both alphas are set. Defaults are DeiT's (Touvron et al. 2021)."""

    mixup_alpha: float = Field(0.8, ge=0)
    cutmix_alpha: float = Field(1.0, ge=0)
    cutmix_minmax: Optional[tuple[float, float]] = None
    prob: float = Field(1.0, ge=0, le=1)
    switch_prob: float = Field(0.5, ge=0, le=1)
    mode: Literal["batch", "pair", "elem"] = "batch"

    @model_validator(mode="after")
    def _mixes(self) -> MixupSpec:
        if not (self.mixup_alpha or self.cutmix_alpha or self.cutmix_minmax):
            raise ValueError("set mixup_alpha or cutmix_alpha above 0 (or leave out mixup)")
        return self


class EmaSpec(StrictModel):
    """An exponential moving average of the weights (timm's ModelEmaV3), evaluated as val/ema_*."""

    decay: float = Field(0.9998, gt=0, lt=1)
    warmup: bool = Field(False, description="ramp the decay up over the first steps (timm's warmup)")


class EarlyStoppingSpec(StrictModel):
    patience: int = Field(10, ge=1, description="epochs without improvement before stopping")
    metric: str = TOP1
    mode: Optional[Literal["max", "min"]] = Field(None, description="default: min for losses, else max")
    min_delta: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _known_metric(self) -> EarlyStoppingSpec:
        _check_metric(self.metric, "metric")
        return self


# Steps a schedule is tried for on its nominal batches: one past its first (a torch scheduler reads
# most options only when it computes a learning rate, and its first step is taken when it is built).
TRIED_STEPS, TRIED_STEPS_PER_EPOCH = 2, 4


def optimizer_for(spec: OptimizerSpec, model: Any) -> Any:
    """The optimizer ``spec`` names, over ``model``'s parameters (a trainer's stage, or ``try_recipe``)."""
    from .recipes import build_optimizer

    return build_optimizer(spec.name, model, lr=spec.lr, weight_decay=spec.weight_decay,
                           no_decay_norm_bias=spec.no_decay_norm_bias, backbone_lr_scale=spec.backbone_lr_scale,
                           **spec.options)


def schedule_for(spec: LrScheduleSpec, optimizer: Any, *, epochs: int, steps_per_epoch: int) -> Any:
    """The LR schedule ``spec`` names, over ``epochs`` of ``steps_per_epoch`` batches."""
    from .lr_schedules import build_schedule

    return build_schedule(spec.name, optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch,
                          warmup_epochs=spec.warmup_epochs, interval=spec.interval, **spec.options)


def try_recipe(optimizer: OptimizerSpec, scheduler: LrScheduleSpec, epochs: int) -> None:
    """Build the optimizer on one parameter and step its schedule twice, as a trainer does: an
    option of the right name but a value its builder refuses (a momentum of -5, a step size of
    "abc", a cyclic schedule without its ``max_lr``) fails here, not in every trial of a started sweep."""
    import warnings

    import torch

    class Probe(torch.nn.Module):
        """A backbone and a head of one weight each: what ``backbone_lr_scale`` splits."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone, self.head = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)

        def get_classifier(self) -> torch.nn.Module:
            return self.head

    refused = (TypeError, ValueError, KeyError, AssertionError, ArithmeticError)
    try:
        built = optimizer_for(optimizer, Probe())
    except refused as exc:
        raise OptionError("optimizer", f"optimizer {optimizer.name} cannot be built with these options: {exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on stepping a schedule before its optimizer
            schedule = schedule_for(scheduler, built, epochs=epochs, steps_per_epoch=TRIED_STEPS_PER_EPOCH)
            for _ in range(TRIED_STEPS):
                schedule.step_batch()
                schedule.step_epoch({schedule.metric: 0.0} if schedule.metric else {})
    except refused as exc:
        raise OptionError("scheduler", f"scheduler {scheduler.name} cannot be built with these options: {exc}") from None


class PretrainSpec(StrictModel):
    """Reconstruction pre-training of an autoencoder (a model with ``reconstruct(x)``) on every
    training image, labelled or not, before the classification epochs (seed 004, task 2)."""

    epochs: int = Field(..., ge=1)
    optimizer: OptimizerSpec = Field(default_factory=lambda: OptimizerSpec(name="adam", lr=1e-3, weight_decay=0))
    scheduler: LrScheduleSpec = Field(default_factory=lambda: LrScheduleSpec(name="constant"))
    loss: Literal["mse", "l1"] = "mse"
    mask_holes: int = Field(0, ge=0, description="squares cut out of the input only; the target stays whole")
    mask_size: int = Field(16, ge=1)

    @model_validator(mode="after")
    def _buildable_recipe(self) -> PretrainSpec:
        try_recipe(self.optimizer, self.scheduler, self.epochs)
        return self


class TrainSpec(StrictModel):
    epochs: int = Field(10, ge=1, description="classification epochs (after any pre-training)")
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    scheduler: LrScheduleSpec = Field(default_factory=LrScheduleSpec)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    mixup: Optional[MixupSpec] = None
    grad_clip: Optional[float] = Field(None, gt=0, description="max gradient L2 norm")
    ema: Optional[EmaSpec] = None
    early_stopping: Optional[EarlyStoppingSpec] = None
    pretrain: Optional[PretrainSpec] = None
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    channels_last: Union[Literal["auto"], bool] = Field(
        "auto", description="auto: on for CUDA with autocast (1.7x there), off on CPU where it is slower")
    compile: bool = Field(False, description="torch.compile the model")
    cuda_graphs: Literal["auto", "on", "off"] = Field(
        "auto", description="capture each training step in a CUDA graph; auto: where model and recipe allow")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = Field(0, ge=0, description="seed of the first repeat; repeat r uses seed + r")

    @field_validator("channels_last", mode="before")
    @classmethod
    def _switch_or_auto(cls, value: Any) -> Any:
        # One plain message naming every allowed value, instead of pydantic's first union branch
        # ("train.channels_last.literal['auto']: Input should be 'auto'").
        if value == "auto":
            return value
        try:
            return TypeAdapter(bool).validate_python(value)
        except ValidationError:
            raise ValueError(f"allowed: auto, true or false (got {value!r})") from None

    @model_validator(mode="after")
    def _buildable_recipe(self) -> TrainSpec:
        try_recipe(self.optimizer, self.scheduler, self.epochs)
        return self

    @field_validator("cuda_graphs", mode="before")
    @classmethod
    def _yaml_switch(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare ``on``/``off`` as a boolean."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value
