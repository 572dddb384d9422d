"""The labelled-fraction split: stratified, seeded, disjoint."""

from __future__ import annotations

import pytest
import torch

from orchestrator.data import load_dataset, stratified_split
from orchestrator.train.recipe import DataSpec
from orchestrator.train.setup import select_data


def test_split_is_stratified_disjoint_and_complete() -> None:
    labels = torch.arange(200) % 20  # 10 per class
    selected, rest = stratified_split(labels, 0.1, seed=0)
    assert labels[selected].bincount().tolist() == [1] * 20
    assert labels[rest].bincount().tolist() == [9] * 20
    assert not set(selected.tolist()) & set(rest.tolist())
    assert sorted(selected.tolist() + rest.tolist()) == list(range(200))


def test_split_is_seeded() -> None:
    labels = torch.arange(300) % 3
    first, _ = stratified_split(labels, 0.2, seed=5)
    assert torch.equal(first, stratified_split(labels, 0.2, seed=5)[0])
    assert not torch.equal(first, stratified_split(labels, 0.2, seed=6)[0])


def test_every_class_keeps_an_image_on_both_sides() -> None:
    labels = torch.tensor([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2])
    selected, rest = stratified_split(labels, 0.05, seed=0)
    assert labels[selected].tolist() == [0, 1, 2]  # rounding to zero would drop classes 0 and 1
    assert sorted(set(labels[rest].tolist())) == [0, 1]  # class 2 has one image: it is labelled


def test_fraction_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(torch.zeros(4, dtype=torch.long), 0.0, seed=0)


def test_label_fraction_keeps_validation_and_statistics_of_the_whole_set() -> None:
    dataset = load_dataset("synthetic", num_classes=4, train_size=80, val_size=16, image_size=8)
    everything, labelled = select_data(DataSpec(dataset="synthetic", label_fraction=0.25, split_seed=3), dataset)
    assert everything is dataset and len(labelled.train_labels) == 20
    assert labelled.train_labels.bincount().tolist() == [5] * 4
    assert torch.equal(labelled.val_labels, dataset.val_labels)
    assert labelled.channel_stats() == dataset.channel_stats()


def test_a_held_out_split_validates_on_training_images_and_tests_on_the_validation_split() -> None:
    dataset = load_dataset("synthetic", num_classes=4, train_size=80, val_size=16, image_size=8)
    held = select_data(DataSpec(dataset="synthetic", val_split=0.25, split_seed=3), dataset)[0]
    assert held.val_labels.bincount().tolist() == [5] * 4 and held.train_labels.bincount().tolist() == [15] * 4
    assert torch.equal(held.test_images, dataset.val_images) and torch.equal(held.test_labels, dataset.val_labels)
    train = {tuple(image.flatten().tolist()) for image in held.train_images}
    assert not train & {tuple(image.flatten().tolist()) for image in held.val_images}  # disjoint
    assert held.channel_stats() == dataset.channel_stats()  # normalised like the whole training set
    again = select_data(DataSpec(dataset="synthetic", val_split=0.25, split_seed=3), dataset)[0]
    assert torch.equal(again.val_images, held.val_images)  # the same split in every trial
