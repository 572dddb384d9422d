"""CIFAR from small archives in the real "python version" format, built by the tests."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from orchestrator.data import load_dataset
from orchestrator.data.cifar import DatasetNotFoundError


def write_cifar100_archive(root: Path, train: int = 20, test: int = 10) -> np.ndarray:
    folder = root / "build" / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_data = rng.integers(0, 256, (train, 3072), dtype=np.uint8)
    for name, data, count in (("train", train_data, train),
                              ("test", rng.integers(0, 256, (test, 3072), dtype=np.uint8), test)):
        entry = {b"data": data, b"fine_labels": [i % 100 for i in range(count)],
                 b"coarse_labels": [i % 20 for i in range(count)]}
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = {"fine_label_names": [f"class{i}" for i in range(100)],
            "coarse_label_names": [f"super{i}" for i in range(20)]}
    (folder / "meta").write_bytes(pickle.dumps(meta))
    with tarfile.open(root / "cifar-100-python.tar.gz", "w:gz") as archive:
        archive.add(folder, arcname="cifar-100-python")
    return train_data


def test_cifar100_archive_is_decoded_once_into_a_cache(tmp_path: Path) -> None:
    train_data = write_cifar100_archive(tmp_path)
    data = load_dataset("cifar100", root=tmp_path, download=False)
    assert data.train_images.shape == (20, 3, 32, 32) and data.num_classes == 100
    assert torch.equal(data.train_images[3], torch.from_numpy(train_data[3].reshape(3, 32, 32)))
    assert data.class_names[5] == "class5"
    assert (tmp_path / "cifar100.pt").is_file()
    (tmp_path / "cifar-100-python.tar.gz").unlink()
    assert torch.equal(load_dataset("cifar100", root=tmp_path, download=False).train_images, data.train_images)


def test_missing_cifar_says_where_to_put_the_archive(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"put cifar-10-python.tar.gz from https://www.cs.toronto.edu"):
        load_dataset("cifar10", root=tmp_path, download=False)
