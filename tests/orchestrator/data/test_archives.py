"""Tiny-ImageNet's zip layout, ImageFolder trees, and `data prepare` / `data import` on archives
the tests build."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.data import load_dataset
from orchestrator.data.archive import ChecksumError
from orchestrator.data.prepare import import_dataset



def test_tiny_imagenet_val_is_relabelled_from_val_annotations(tmp_path: Path, tiny_imagenet_zip, colour_labels) -> None:
    annotations = tiny_imagenet_zip(tmp_path / "tiny-imagenet-200.zip", classes=4, train_per_class=3, val_per_class=2)
    data = load_dataset("tiny-imagenet", root=tmp_path, download=False)
    assert data.train_images.shape == (12, 3, 64, 64) and data.val_images.shape == (8, 3, 64, 64)
    wnids = sorted(set(annotations.values()))
    assert data.num_classes == 4 and data.class_names[0] == f"{wnids[0]} thing 0"
    expected = torch.tensor([wnids.index(annotations[name]) for name in sorted(annotations)])
    assert torch.equal(data.val_labels, expected)
    assert torch.equal(colour_labels(data.val_images, 4), data.val_labels)  # images kept their labels
    assert torch.equal(colour_labels(data.train_images, 4), data.train_labels)
    assert (tmp_path / "tiny-imagenet.pt").is_file()


def test_imagefolder_with_train_and_val_folders(tmp_path: Path, image_folder, colour_labels) -> None:
    image_folder(tmp_path / "tree" / "train", {"cat": 3, "dog": 2})
    image_folder(tmp_path / "tree" / "val", {"cat": 1, "dog": 2})
    data = load_dataset("imagefolder", root=tmp_path / "cache", path=str(tmp_path / "tree"))
    assert data.class_names == ["cat", "dog"] and data.input_size == (3, 16, 16)
    assert data.train_labels.tolist() == [0, 0, 0, 1, 1] and data.val_labels.tolist() == [0, 1, 1]
    assert torch.equal(colour_labels(data.val_images, 2), data.val_labels)


def test_imagefolder_split_is_stratified_seeded_and_resizes(tmp_path: Path, image_folder) -> None:
    image_folder(tmp_path / "tree", {"a": 10, "b": 10, "c": 5}, size=20)
    split = dict(root=tmp_path / "cache", path=str(tmp_path / "tree"), val_fraction=0.2, image_size=8)
    data = load_dataset("imagefolder", **split)
    assert data.val_labels.bincount().tolist() == [2, 2, 1] and data.train_labels.bincount().tolist() == [8, 8, 4]
    assert data.input_size == (3, 8, 8)
    other = load_dataset("imagefolder", **{**split, "split_seed": 1})
    assert torch.equal(load_dataset("imagefolder", **split).val_labels, data.val_labels)
    assert len(list((tmp_path / "cache").glob("imagefolder-*.pt"))) == 2 and other.num_classes == 3


def test_data_import_decodes_an_archive_into_the_cache(tmp_path: Path, tiny_imagenet_zip) -> None:
    archive = tmp_path / "downloads" / "my-copy.zip"
    tiny_imagenet_zip(archive, classes=3)
    result = CliRunner().invoke(main, ["data", "import", "tiny-imagenet", str(archive), "--root",
                                       str(tmp_path / "cache"), "--no-verify"])
    assert result.exit_code == 0, result.output
    assert "tiny-imagenet: 9 train, 6 val images of (3, 64, 64), 3 classes" in result.output
    assert (tmp_path / "cache" / "tiny-imagenet.pt").is_file()
    archive.unlink()  # trials read only the cache
    assert load_dataset("tiny-imagenet", root=tmp_path / "cache", download=False).num_classes == 3


def test_import_refuses_an_archive_that_is_not_the_official_file(tmp_path: Path, cifar_archive) -> None:
    cifar_archive(tmp_path, "cifar10")
    with pytest.raises(ChecksumError, match="is not the official cifar-10-python.tar.gz"):
        import_dataset("cifar10", tmp_path / "cifar-10-python.tar.gz", tmp_path / "cache")
    result = CliRunner().invoke(main, ["data", "import", "cifar10", str(tmp_path / "cifar-10-python.tar.gz"),
                                       "--root", str(tmp_path / "cache")])
    assert result.exit_code == 1 and "--no-verify" in result.output
    assert not (tmp_path / "cache" / "cifar10.pt").exists()


def test_data_prepare_verifies_and_rewrites_the_cache(tmp_path: Path, cifar_archive) -> None:
    cifar_archive(tmp_path, "cifar100", train=40, test=20)
    runner = CliRunner()
    refused = runner.invoke(main, ["data", "prepare", "cifar100", "--root", str(tmp_path)])
    assert refused.exit_code == 1 and "MD5" in refused.output
    result = runner.invoke(main, ["data", "prepare", "cifar100", "--root", str(tmp_path), "--no-verify",
                                  "-o", "labels=coarse"])
    assert result.exit_code == 0, result.output
    assert "cifar100: 40 train, 20 val images of (3, 32, 32), 20 classes" in result.output


def test_prepare_builds_an_imagefolder_cache_from_options(tmp_path: Path, image_folder) -> None:
    image_folder(tmp_path / "tree", {"x": 4, "y": 4})
    result = CliRunner().invoke(main, ["data", "prepare", "imagefolder", "--root", str(tmp_path / "cache"),
                                       "-o", f"path={tmp_path / 'tree'}", "-o", "val_fraction=0.25"])
    assert result.exit_code == 0, result.output
    assert "imagefolder: 6 train, 2 val images" in result.output


def test_import_of_a_dataset_without_an_archive_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["data", "import", "digits", str(tmp_path)])
    assert result.exit_code == 1 and "not distributed as one archive" in result.output


@pytest.mark.parametrize("arguments, says", [
    # Each was exit 1: the registry's KeyError, or the builder's TypeError for the option.
    (["data", "prepare", "cifar1000"], "unknown dataset 'cifar1000'; did you mean cifar100, cifar10? allowed:"),
    (["data", "prepare", "digits", "-o", "size=16"], "-o size: dataset digits has no option 'size'; allowed: image_size"),
    # Was the builder's TypeError, then the decoder's RuntimeError for a 0 px side (exit 1).
    (["data", "prepare", "imagefolder"], "-o path: dataset imagefolder needs option 'path', which has no default"),
    (["data", "prepare", "synthetic", "-o", "image_size=0"],
     "-o image_size: dataset synthetic: Input should be greater than or equal to 8 (got 0)"),
    (["bench", "loader", "--dataset", "cifar1000"], "unknown dataset 'cifar1000'; did you mean"),
])
def test_an_unknown_dataset_or_option_is_one_line_exit_2_and_nothing_written(
        tmp_path: Path, arguments: list[str], says: str) -> None:
    result = CliRunner().invoke(main, [*arguments, "--root", str(tmp_path / "cache")])
    assert result.exit_code == 2 and result.output.startswith(f"error: {says}"), result.output
    assert "\n" not in result.output.strip() and not (tmp_path / "cache").exists()
