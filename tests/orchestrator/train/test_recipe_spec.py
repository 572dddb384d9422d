"""The data and train sections refuse every bad recipe with one line naming the key path."""

from __future__ import annotations

import pytest

from orchestrator.errors import SpecError
from orchestrator.study import parse_spec


@pytest.mark.parametrize("section, message", [
    ({"data": {"augment": [{"name": "randaugment", "magnitud": 3}]}},
     "data.augment.0.magnitud: augmentation randaugment has no option 'magnitud'; did you mean 'magnitude'?"),
    ({"data": {"augment": "fancy"}}, "data.augment: unknown augmentation preset 'fancy'; allowed: none, standard"),
    ({"data": {"augment": [{"name": "random_apply", "transforms": [{"name": "vflip", "q": 1}]}]}},
     "data.augment.0.transforms.0.q: augmentation vflip has no option 'q'; allowed: p"),
    # An unknown op is named at its place in the list (was data.augment.name, a key that is not there).
    ({"data": {"augment": ["hflip", {"name": "cutot"}]}}, "data.augment.1.name: unknown augmentation 'cutot'"),
    ({"data": {"augment": [{"name": "random_apply", "transforms": ["vflp"]}]}},
     "data.augment.0.transforms.0.name: unknown augmentation 'vflp'; did you mean vflip"),
    ({"data": {"augment": ["hflip", 42]}}, "data.augment.1: an augmentation is an op name or a mapping"),
    ({"data": {"label_fraction": 0}}, "data.label_fraction: Input should be greater than 0"),
    # A dataset's options are checked against its builder's bounds and required options when the
    # spec is read: each passed the dry run and failed the sweep in the decoder (exit 1).
    ({"data": {"dataset": "imagefolder"}}, "data.options.path: dataset imagefolder needs option 'path', which has no default"),
    ({"data": {"dataset": "synthetic", "options": {"image_size": 0}}},
     "data.options.image_size: dataset synthetic: Input should be greater than or equal to 8 (got 0)"),
    ({"data": {"dataset": "synthetic", "options": {"train_size": -5}}},
     "data.options.train_size: dataset synthetic: Input should be greater than or equal to 1 (got -5)"),
    ({"data": {"dataset": "imagefolder", "options": {"path": "photos", "val_fraction": 1}}},
     "data.options.val_fraction: dataset imagefolder: Input should be less than 1 (got 1)"),
    ({"train": {"early_stopping": {"metric": "val/acc"}}}, "train.early_stopping.metric: unknown metric 'val/acc'"),
    ({"train": {"scheduler": {"name": "onecycle", "warmup_epochs": 3}}},
     "train.scheduler.warmup_epochs: scheduler onecycle does not take a separate warm-up"),
    ({"data": {"batch_size": 33}, "train": {"mixup": {}}}, "data.batch_size: mixup/cutmix mixes pairs"),
    ({"train": {"pretrain": {"epochs": 2, "loss": "huber"}}}, "train.pretrain.loss: Input should be 'mse' or 'l1'"),
    ({"train": {"optimizer": {"name": "sgd", "backbone_lr_scale": 2}}}, "train.optimizer.backbone_lr_scale"),
    ({"train": {"optimizer": {"name": "rmsprop", "alpah": 0.9}}}, "train.optimizer.alpah: optimizer rmsprop has no option"),
    # A value the optimizer or schedule refuses (its name is right): built and stepped when the
    # spec is read, else every trial of the sweep failed at its start.
    ({"train": {"optimizer": {"name": "sgd", "momentum": -5}}},
     "train.optimizer: optimizer sgd cannot be built with these options: Invalid momentum value: -5"),
    ({"train": {"scheduler": {"name": "step", "step_size": 0}}},
     "train.scheduler: scheduler step cannot be built with these options: integer modulo by zero"),
    ({"train": {"scheduler": {"name": "cyclic"}}},
     "train.scheduler: scheduler cyclic cannot be built with these options: cyclic() missing 1 required "
     "keyword-only argument: 'max_lr'"),
    ({"train": {"pretrain": {"epochs": 2, "scheduler": {"name": "plateau", "factor": None}}}},
     "train.pretrain.scheduler.factor: scheduler plateau: Input should be a valid number (got None)"),
    # A value of the wrong type for the builder's annotation: a step schedule reads its gamma only
    # at its first cut, 30 epochs into each trial.
    ({"train": {"scheduler": {"name": "step", "gamma": "1/2"}}},
     "train.scheduler.gamma: scheduler step: Input should be a valid number, unable to parse string as a number "
     "(got '1/2')"),
    ({"train": {"optimizer": {"name": "sgd", "nesterov": "maybe"}}},
     "train.optimizer.nesterov: optimizer sgd: Input should be a valid boolean"),
    # A number in quotes reads as one, but the builder would be given the text: at the first cut.
    ({"train": {"scheduler": {"name": "step", "gamma": "0.5"}}},
     "train.scheduler.gamma: scheduler step: Input should be a valid number, not text in quotes (got '0.5')"),
    # An op's own option, named at its place in the list.
    ({"data": {"augment": ["hflip", {"name": "cutout", "size": "16"}]}},
     "data.augment.1: augmentation cutout: size '16'; allowed: a whole number 1 or more"),
    # What only the image size tells: the augmentation is tried once on the study's images (the
    # dataset's stored size, data.options.image_size, data.image_size), else failing at the first batch.
    ({"data": {"augment": ["hflip", {"name": "random_crop", "padding": 4, "size": 41}]}},
     "data.augment.1: augmentation random_crop: size 41 is larger than the 32x32 px image padded by 4; "
     "allowed: at most 40"),
    ({"data": {"dataset": "tiny-imagenet", "augment": [{"name": "random_crop", "padding": 0, "size": 72}]}},
     "data.augment.0: augmentation random_crop: size 72 is larger than the 64x64 px image padded by 0; "
     "allowed: at most 64"),
    ({"data": {"dataset": "synthetic", "options": {"image_size": 16},
               "augment": [{"name": "random_crop", "padding": 2, "size": 24}]}},
     "data.augment.0: augmentation random_crop: size 24 is larger than the 16x16 px image padded by 2"),
    ({"data": {"image_size": 16, "augment": [{"name": "random_crop", "padding": 0, "size": 24}]}},
     "data.augment.0: augmentation random_crop: size 24 is larger than the 16x16 px image"),
    ({"data": {"augment": [{"name": "random_crop", "padding": 40}]}},
     "data.augment.0: augmentation random_crop: padding 40 with padding_mode reflect is more than the 32x32 px "
     "image holds; allowed: at most 31, or padding_mode constant or replicate"),
    ({"data": {"augment": [{"name": "gaussian_blur", "kernel_size": 65}]}},
     "data.augment.0: augmentation gaussian_blur: kernel_size 65 is larger than the 32x32 px image allows; "
     "allowed: at most 63"),
    ({"data": {"augment": ["hflip", {"name": "random_choice", "transforms": [
        "hflip", {"name": "random_resized_crop", "size": 24}]}]}},
     "data.augment.1: augmentation random_choice: transforms turn 32x32 px images into 24x24 px; "
     "allowed: ops that keep the image size"),
    ({"data": {"augment": [{"name": "random_apply", "transforms": [{"name": "random_crop", "padding": 0, "size": 24}]}]}},
     "data.augment.0: augmentation random_apply: transforms turn 32x32 px images into 24x24 px"),
    ({"data": {"dataset": "imagefolder", "options": {"path": "photos"},
               "augment": [{"name": "random_crop", "padding": 0, "size": 48}]}},
     "data.augment.0: augmentation random_crop: size 48 is larger than the 32x32 px image padded by 0; "
     "allowed: at most 32 (32 px assumed: set data.image_size to the images' size)"),
])
def test_bad_recipe_is_one_line_naming_the_key(section: dict, message: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_spec({"name": "study", **section})
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_full_recipe_validates() -> None:
    spec = parse_spec({"name": "study", "data": {
        "augment": [{"name": "random_crop", "padding": 0, "size": 56},
                    {"name": "random_choice", "transforms": ["hflip", {"name": "rotation", "degrees": 20}]}],
        "augment_mode": "alternate", "label_fraction": 0.1, "normalize": "imagenet", "image_size": 64,
    }, "train": {
        "optimizer": {"name": "rmsprop", "lr": 0.05, "alpha": 0.9, "eps": 1.0, "no_decay_norm_bias": True},
        "scheduler": {"name": "plateau", "metric": "val/loss", "factor": 0.5},
        "mixup": {"cutmix_alpha": 1.0}, "ema": {"decay": 0.999}, "early_stopping": {"patience": 5},
        "pretrain": {"epochs": 3, "mask_holes": 12}, "channels_last": True, "amp": "bf16",
    }})
    assert spec.train.pretrain.optimizer.name == "adam" and spec.data.label_fraction == 0.1


@pytest.mark.parametrize("data, model", [
    ({"image_size": 64}, {}),  # resized before the augmentation
    ({}, {"name": "resnet50", "pretrained": True}),  # resized to the weights' input size
    ({"dataset": "imagefolder", "options": {"path": "photos"}, "image_size": 64}, {}),
])
def test_a_crop_the_input_size_allows_validates(data: dict, model: dict) -> None:
    augment = [{"name": "random_crop", "padding": 0, "size": 56}, {"name": "random_resized_crop", "size": 48}]
    spec = parse_spec({"name": "study", "data": {**data, "augment": augment}, "model": model})
    assert spec.data.augment == augment


def test_a_pretrained_rows_crop_is_not_tried_at_a_size_its_weights_may_not_have() -> None:
    """Its images are resized to its weights' input size (384 for some), known once it is built."""
    augment = [{"name": "random_crop", "padding": 0, "size": 384}]
    spec = parse_spec({"name": "study", "data": {"augment": augment},
                       "model": {"name": "resnet50", "pretrained": True}})
    assert spec.data.augment == augment
