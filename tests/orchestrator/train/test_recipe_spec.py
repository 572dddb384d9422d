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
    ({"train": {"early_stopping": {"metric": "val/acc"}}}, "train.early_stopping.metric: unknown metric 'val/acc'"),
    ({"train": {"scheduler": {"name": "onecycle", "warmup_epochs": 3}}},
     "train.scheduler.warmup_epochs: scheduler onecycle does not take a separate warm-up"),
    ({"data": {"batch_size": 33}, "train": {"mixup": {}}}, "data.batch_size: mixup/cutmix mixes pairs"),
    ({"train": {"pretrain": {"epochs": 2, "loss": "huber"}}}, "train.pretrain.loss: Input should be 'mse' or 'l1'"),
    ({"train": {"optimizer": {"name": "sgd", "backbone_lr_scale": 2}}}, "train.optimizer.backbone_lr_scale"),
    ({"train": {"optimizer": {"name": "rmsprop", "alpah": 0.9}}}, "train.optimizer.alpah: optimizer rmsprop has no option"),
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
