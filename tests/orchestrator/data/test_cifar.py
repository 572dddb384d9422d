"""CIFAR from small archives in the real "python version" format, built by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from orchestrator.data import load_dataset
from orchestrator.data.archive import DatasetNotFoundError


def test_cifar100_archive_is_decoded_once_into_a_cache(tmp_path: Path, cifar_archive) -> None:
    train_data = cifar_archive(tmp_path, "cifar100", train=20, test=10)
    data = load_dataset("cifar100", root=tmp_path, download=False)
    assert data.train_images.shape == (20, 3, 32, 32) and data.num_classes == 100
    assert torch.equal(data.train_images[3], torch.from_numpy(train_data[3].reshape(3, 32, 32)))
    assert data.class_names[5] == "class5"
    assert (tmp_path / "cifar100.pt").is_file()
    (tmp_path / "cifar-100-python.tar.gz").unlink()
    assert torch.equal(load_dataset("cifar100", root=tmp_path, download=False).train_images, data.train_images)


def test_cifar100_exposes_the_20_coarse_superclasses(tmp_path: Path, cifar_archive) -> None:
    cifar_archive(tmp_path, "cifar100", train=40, test=20)
    fine = load_dataset("cifar100", root=tmp_path, download=False)
    coarse = load_dataset("cifar100", root=tmp_path, download=False, labels="coarse")
    assert coarse.num_classes == 20 and coarse.class_names[3] == "super3"
    assert torch.equal(coarse.train_labels, fine.train_labels % 20)  # how the test archive labels them
    assert torch.equal(coarse.train_images, fine.train_images)


def test_cifar10_reads_all_five_training_batches(tmp_path: Path, cifar_archive) -> None:
    cifar_archive(tmp_path, "cifar10", train=30, test=10)
    data = load_dataset("cifar10", root=tmp_path, download=False)
    assert data.train_images.shape == (30, 3, 32, 32) and data.val_images.shape == (10, 3, 32, 32)
    assert data.num_classes == 10 and data.mean == pytest.approx([0.4914, 0.4822, 0.4465])


def test_missing_cifar_says_where_to_put_the_archive(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"put cifar-10-python.tar.gz from https://www.cs.toronto.edu"):
        load_dataset("cifar10", root=tmp_path, download=False)
