"""Batched augmentation: every op's shapes and seeded randomness, per-image parameters, the
formulas against torchvision's, validation's deterministic counterparts, and the loader modes."""

from __future__ import annotations

import re

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from orchestrator.data import InMemoryLoader, build_augmentation
from orchestrator.data.augment import Cutout, RandomCrop, RandomResizedCrop, Rotation
from orchestrator.data.color import ADJUSTMENTS, GaussianBlur, shift_hue
from orchestrator.data.pipeline import OPS, PRESETS
from orchestrator.errors import OptionError

# One representative configuration per op (the defaults where they already do something).
OP_EXAMPLES = {
    "random_crop": {"padding": 4},
    "hflip": {},
    "vflip": {},
    "random_resized_crop": {"size": 12, "scale": [0.5, 1.0]},
    "cutout": {"holes": 2, "size": 4},
    "colorjitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1},
    "rotation": {"degrees": 30},
    "affine": {"degrees": 20, "translate": [0.1, 0.1], "scale": [0.8, 1.2], "shear": 10},
    "gaussian_blur": {"kernel_size": 3},
    "randaugment": {"num_ops": 2, "magnitude": 9},
    "autoaugment": {"policy": "cifar10"},
    "random_apply": {"p": 0.5, "transforms": ["hflip", {"name": "rotation", "degrees": 10}]},
    "random_choice": {"transforms": ["hflip", "vflip"]},
}


def batch(n: int = 32, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_every_op_has_an_example() -> None:
    assert set(OP_EXAMPLES) == set(OPS)


@pytest.mark.parametrize("name", sorted(OP_EXAMPLES))
def test_op_is_batched_seeded_and_per_image(name: str) -> None:
    op = build_augmentation([{"name": name, **OP_EXAMPLES[name]}])
    images = batch()
    out = op(images, torch.Generator().manual_seed(1))
    size = OP_EXAMPLES[name].get("size", 16) if name == "random_resized_crop" else 16
    assert out.shape == (32, 3, size, size) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    assert torch.equal(out, op(images, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, op(images, torch.Generator().manual_seed(2)))
    if out.shape == images.shape:  # images differ from one another in how they were changed
        changes = (out - images).flatten(1).abs().sum(dim=1)
        assert len(torch.unique(changes.round(decimals=4))) > 1


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_build_and_keep_the_shape(preset: str) -> None:
    assert build_augmentation(preset)(batch(8), torch.Generator()).shape == (8, 3, 16, 16)


def test_colour_formulas_match_torchvision_for_a_fixed_factor() -> None:
    images = batch(4)
    factor = torch.full((4,), 0.7)
    for name, reference in (("brightness", TF.adjust_brightness), ("contrast", TF.adjust_contrast),
                            ("saturation", TF.adjust_saturation)):
        assert torch.allclose(ADJUSTMENTS[name](images, factor), reference(images, 0.7), atol=1e-5)
    for hue in (-0.3, 0.2):
        assert torch.allclose(shift_hue(images, torch.full((4,), hue)), TF.adjust_hue(images, hue), atol=1e-5)


def test_blur_and_rotation_match_torchvision_for_a_fixed_draw() -> None:
    images = batch(4)
    blurred = GaussianBlur(3, (0.8, 0.8))(images, torch.Generator())
    assert torch.allclose(blurred, TF.gaussian_blur(images, [3, 3], [0.8, 0.8]), atol=1e-5)
    rotated = Rotation(degrees=(30, 30))(images, torch.Generator())
    assert torch.allclose(rotated, TF.rotate(images, 30), atol=1e-5)


def test_cutout_blanks_squares_of_the_given_size() -> None:
    images = torch.ones(64, 1, 32, 32)
    out = Cutout(holes=1, size=8)(images, torch.Generator().manual_seed(0))
    blanked = (out == 0).sum(dim=(1, 2, 3))
    assert blanked.max() == 64 and blanked.min() > 0  # whole 8x8 squares, some clipped at the border


def test_random_crop_to_a_size_has_a_centre_crop_for_validation() -> None:
    images = batch(4, size=8)
    op = RandomCrop(padding=0, size=6)
    assert op(images, torch.Generator()).shape == (4, 3, 6, 6)
    assert torch.equal(op.deterministic(images), images[:, :, 1:7, 1:7])
    resized = RandomResizedCrop(size=4).deterministic(images)
    assert resized.shape == (4, 3, 4, 4)
    # A crop the padding makes possible: validation's is the centre of the padded image, same size.
    padded = RandomCrop(padding=2, size=10, padding_mode="constant")
    assert padded(images, torch.Generator()).shape == padded.deterministic(images).shape == (4, 3, 10, 10)
    assert torch.equal(padded.deterministic(images)[:, :, 1:9, 1:9], images)


def test_random_resized_crop_with_full_scale_and_square_ratio_is_a_resize() -> None:
    images = batch(4, size=8)
    out = RandomResizedCrop(size=8, scale=(1.0, 1.0), ratio=(1.0, 1.0))(images, torch.Generator())
    assert torch.allclose(out, images, atol=1e-5)


def test_random_apply_and_random_choice_extremes() -> None:
    images = batch(8)
    never = build_augmentation([{"name": "random_apply", "p": 0.0, "transforms": ["hflip"]}])
    always = build_augmentation([{"name": "random_apply", "p": 1.0, "transforms": [{"name": "hflip", "p": 1.0}]}])
    assert torch.equal(never(images, torch.Generator()), images)
    assert torch.equal(always(images, torch.Generator()), images.flip(3))
    choice = build_augmentation([{"name": "random_choice", "transforms": [{"name": "hflip", "p": 1.0},
                                                                          {"name": "vflip", "p": 1.0}]}])
    out = choice(images, torch.Generator().manual_seed(0))
    assert all(torch.equal(o, i.flip(2)) or torch.equal(o, i.flip(1)) for o, i in zip(out, images))


@pytest.mark.parametrize("augment, message", [
    ([{"name": "randaugment", "magnitud": 3}], "did you mean 'magnitude'"),
    ("fancy", "unknown augmentation preset 'fancy'"),
    ([{"name": "colorjitter", "hue": 0.9}], "hue 0.9; allowed: a number from 0 to 0.5"),
    ([{"name": "random_apply"}], "takes a non-empty list"),
    # Refused when the spec is read, not at the first batch (or, below bin 0, never).
    ([{"name": "randaugment", "interpolation": "bicubic"}], "interpolation 'bicubic'; allowed: nearest, bilinear"),
    ([{"name": "autoaugment", "interpolation": "bicubic"}], "interpolation 'bicubic'; allowed: nearest, bilinear"),
    ([{"name": "randaugment", "magnitude": 31}], "magnitude 31 is not a bin of num_magnitude_bins 31; allowed: 0 to"),
    ([{"name": "randaugment", "magnitude": -1}], "magnitude -1; allowed: a whole number 0 or more"),
    ([{"name": "randaugment", "num_magnitude_bins": 1, "magnitude": 0}], "num_magnitude_bins 1; allowed: a whole number 2 or more"),
    ([{"name": "randaugment", "num_ops": -1}], "num_ops -1; allowed: a whole number 0 or more"),  # else no op, silently
    # Else accepted here and failing at the first batch, in a running trial (or, for 'two', a
    # comparison's TypeError that names no allowed value).
    ([{"name": "randaugment", "num_ops": 2.5}], "num_ops 2.5; allowed: a whole number"),
    ([{"name": "randaugment", "magnitude": 9.5}], "magnitude 9.5; allowed: a whole number"),
    ([{"name": "randaugment", "num_magnitude_bins": 10.5, "magnitude": 1}], "num_magnitude_bins 10.5; allowed"),
    ([{"name": "randaugment", "num_ops": "two"}], "num_ops 'two'; allowed: a whole number"),
    # Each op checks its own options. Else failing at the first batch, in a running trial:
    ([{"name": "cutout", "size": "16"}], "size '16'; allowed: a whole number 1 or more"),
    ([{"name": "random_crop", "padding": -4}], "padding -4; allowed: a whole number 0 or more"),
    ([{"name": "random_crop", "padding": 4.5}], "padding 4.5; allowed: a whole number 0 or more"),
    ([{"name": "random_crop", "padding": "4"}], "padding '4'; allowed: a whole number 0 or more"),
    ([{"name": "random_resized_crop", "size": 0}], "size 0; allowed: a whole number 1 or more"),
    ([{"name": "random_resized_crop", "size": -3}], "size -3; allowed: a whole number 1 or more"),
    ([{"name": "hflip", "p": "x"}], "p 'x'; allowed: a number from 0 to 1"),
    ([{"name": "gaussian_blur", "kernel_size": "3"}], "kernel_size '3'; allowed: an odd whole number 1 or more"),
    # ... else taken without a word, though meaningless:
    ([{"name": "cutout", "size": -1}], "size -1; allowed: a whole number 1 or more"),
    ([{"name": "cutout", "holes": 0}], "holes 0; allowed: a whole number 1 or more"),
    ([{"name": "hflip", "p": 2}], "p 2; allowed: a number from 0 to 1"),
    ([{"name": "vflip", "p": -0.1}], "p -0.1; allowed: a number from 0 to 1"),
    ([{"name": "random_apply", "p": 1.5, "transforms": ["hflip"]}], "p 1.5; allowed: a number from 0 to 1"),
    ([{"name": "colorjitter", "brightness": -1}],
     "brightness -1; allowed: a number 0 or more (±it about 1), or a pair [low, high], low <= high, each 0 or more"),
    ([{"name": "colorjitter", "contrast": [2, 1]}], "contrast [2, 1]; allowed: a number 0 or more"),
    ([{"name": "colorjitter", "hue": -0.2}], "hue -0.2; allowed: a number from 0 to 0.5"),
    ([{"name": "gaussian_blur", "sigma": [-1, 2]}],
     "sigma [-1, 2]; allowed: a number above 0, or a pair [low, high], low <= high, each above 0"),
    ([{"name": "gaussian_blur", "sigma": 0}], "sigma 0; allowed: a number above 0"),
    ([{"name": "gaussian_blur", "kernel_size": 4}], "kernel_size 4; allowed: an odd whole number 1 or more"),
    ([{"name": "rotation", "degrees": -10}], "degrees -10; allowed: a number 0 or more"),
    ([{"name": "affine", "translate": [0.1, 2]}], "translate [0.1, 2]; allowed: a pair of numbers, each from 0 to 1"),
    ([{"name": "affine", "scale": [1.2, 0.8]}], "scale [1.2, 0.8]; allowed: a pair [low, high], low <= high"),
    ([{"name": "affine", "shear": 90}], "shear 90; allowed: a number from 0 to 89"),
    ([{"name": "affine", "fill": 255}], "fill 255; allowed: a number from 0 to 1"),
    ([{"name": "random_resized_crop", "size": 24, "scale": [0.5, 2]}], "scale [0.5, 2]; allowed: a pair"),
    ([{"name": "random_resized_crop", "size": 24, "ratio": [0, 1]}], "ratio [0, 1]; allowed: a pair"),
    # ... else a type error naming no allowed value:
    ([{"name": "randaugment", "interpolation": ["x"]}], "interpolation ['x']; allowed: nearest, bilinear"),
    ([{"name": "autoaugment", "policy": ["cifar10"]}], "policy ['cifar10']; allowed: imagenet, cifar10, svhn"),
    ([{"name": "rotation", "degrees": "x"}],
     "degrees 'x'; allowed: a number 0 or more (±it about 0), or a pair [low, high], low <= high"),
    ([{"name": "affine", "interpolation": "bicubic"}], "interpolation 'bicubic'; allowed: nearest, bilinear"),
    ([{"name": "random_crop", "padding_mode": "edge"}], "padding_mode 'edge'; allowed: reflect, constant"),
])
def test_bad_augmentation_is_an_option_error(augment, message: str) -> None:
    with pytest.raises(OptionError, match=re.escape(message)):
        build_augmentation(augment)


def make_loader(**kwargs) -> InMemoryLoader:
    images = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8)
    return InMemoryLoader(images, torch.arange(8), batch_size=8, mean=[0.0] * 3, std=[1.0] * 3, **kwargs)


def test_alternate_mode_augments_odd_epochs_only() -> None:
    loader = make_loader(augment=build_augmentation([{"name": "hflip", "p": 1.0}]), augment_mode="alternate")
    originals = loader.images.float() / 255
    first, second, third = (next(iter(loader))[0] for _ in range(3))
    assert torch.allclose(first, originals.flip(3)) and torch.allclose(second, originals)
    assert torch.allclose(third, originals.flip(3)) and loader.state_dict()["epoch"] == 3


def test_concat_mode_holds_each_image_twice_once_augmented() -> None:
    loader = make_loader(augment=build_augmentation([{"name": "hflip", "p": 1.0}]), augment_mode="concat",
                         shuffle=True)
    images, labels = zip(*loader)
    images, labels = torch.cat(images), torch.cat(labels)
    assert len(loader) == 2 and labels.bincount().tolist() == [2] * 8
    originals = loader.images.float() / 255
    for label in range(8):
        pair = images[labels == label]
        assert {torch.allclose(p, originals[label]) for p in pair} == {True, False}


def test_validation_uses_the_deterministic_counterpart_and_resizes() -> None:
    augment = build_augmentation([{"name": "random_crop", "padding": 0, "size": 6}])
    val = make_loader(augment=augment, augment_mode="deterministic")
    assert torch.equal(next(iter(val))[0], next(iter(val))[0])
    assert next(iter(val))[0].shape == (8, 3, 6, 6)
    resized = make_loader(image_size=12, channels_last=True)
    images = next(iter(resized))[0]
    assert images.shape == (8, 3, 12, 12) and images.is_contiguous(memory_format=torch.channels_last)
