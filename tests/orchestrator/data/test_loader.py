from __future__ import annotations

import torch

from orchestrator.data import InMemoryLoader, load_dataset
from orchestrator.data import build_augmentation
from orchestrator.data.augment import random_crop, random_flip


def test_random_crop_keeps_shape_and_shifts_content() -> None:
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    generator = torch.Generator().manual_seed(0)
    out = random_crop(images.repeat(16, 1, 1, 1), 4, generator)
    assert out.shape == (32, 3, 8, 8)
    assert not all(torch.equal(o, images[i % 2]) for i, o in enumerate(out))


def test_random_crop_with_zero_shift_is_identity() -> None:
    images = torch.rand(4, 3, 8, 8)
    assert torch.equal(random_crop(images, 0, torch.Generator()), images)


def test_crop_pixels_come_from_the_reflect_padded_image() -> None:
    image = torch.rand(1, 1, 6, 6)
    padded = torch.nn.functional.pad(image, (2, 2, 2, 2), mode="reflect")
    out = random_crop(image.repeat(20, 1, 1, 1), 2, torch.Generator().manual_seed(1))
    windows = {(dy, dx): padded[0, 0, dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)}
    assert all(any(torch.equal(o[0], w) for w in windows.values()) for o in out)


def test_hflip_mirrors_about_half_the_images() -> None:
    images = torch.rand(400, 3, 4, 4)
    out = random_flip(images, torch.Generator().manual_seed(0), 0.5, 3)
    flipped = torch.tensor([torch.equal(o, i.flip(2)) for o, i in zip(out, images)])
    assert torch.all(flipped | torch.tensor([torch.equal(o, i) for o, i in zip(out, images)]))
    assert 150 < flipped.sum() < 250


def test_augmentation_is_random_but_seeded() -> None:
    images = torch.rand(8, 3, 16, 16)
    standard = build_augmentation("standard")
    first = standard(images, torch.Generator().manual_seed(3))
    again = standard(images, torch.Generator().manual_seed(3))
    other = standard(images, torch.Generator().manual_seed(4))
    assert torch.equal(first, again) and not torch.equal(first, other)


def make_loader(**kwargs) -> InMemoryLoader:
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(10)
    return InMemoryLoader(images, labels, batch_size=4, mean=[0.5] * 3, std=[0.25] * 3, **kwargs)


def test_loader_batches_normalise_and_cover_every_image_once() -> None:
    loader = make_loader(shuffle=True, seed=0)
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2] and len(loader) == 3
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(10))
    images, labels = batches[0]
    expected = (loader.images[labels].float() / 255 - 0.5) / 0.25
    assert images.dtype == torch.float32 and torch.allclose(images, expected)


def test_loader_shuffles_each_epoch_and_resumes_its_generator() -> None:
    loader = make_loader(shuffle=True, drop_last=True, seed=0)
    assert len(loader) == 2
    first = [y.tolist() for _, y in loader]
    state = loader.state_dict()
    second = [y.tolist() for _, y in loader]
    assert first != second
    loader.load_state_dict(state)
    assert [y.tolist() for _, y in loader] == second


def test_digits_is_fixed_real_data_at_32x32() -> None:
    data = load_dataset("digits")
    assert data.train_images.shape == (1438, 3, 32, 32) and data.val_images.shape == (359, 3, 32, 32)
    assert torch.equal(data.val_labels, load_dataset("digits").val_labels)
    assert data.train_labels.bincount().min() > 100


def test_synthetic_is_sized_as_asked_and_deterministic() -> None:
    data = load_dataset("synthetic", num_classes=4, train_size=40, val_size=12, image_size=16, in_chans=1)
    assert data.train_images.shape == (40, 1, 16, 16) and data.num_classes == 4
    assert torch.equal(data.train_images, load_dataset("synthetic", num_classes=4, train_size=40,
                                                       val_size=12, image_size=16, in_chans=1).train_images)
