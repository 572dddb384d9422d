"""Checkpoint storage: local folders and URIs (through pyarrow.fs) are read the same way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator import storage
from orchestrator.trial import CHECKPOINT_FILE, latest_checkpoint


def test_join_keeps_a_uri_scheme_and_query_and_makes_local_paths_absolute() -> None:
    assert storage.join("s3://bucket/prefix?endpoint_override=minio:9000", "study", "run") == \
        "s3://bucket/prefix/study/run?endpoint_override=minio:9000"
    assert storage.join("s3://bucket", "study") == "s3://bucket/study"
    assert storage.join("ray_results", "study") == str(Path("ray_results").resolve() / "study")


@pytest.mark.parametrize("as_uri", [False, True], ids=["folder", "file-uri"])
def test_latest_checkpoint_finds_the_newest_of_a_run_key(tmp_path: Path, as_uri: bool) -> None:
    for index, (sweep, key) in enumerate([("s1", "k-s0"), ("s2", "k-s0"), ("s2", "other-s0")]):
        path = tmp_path / sweep / "grid" / key / f"checkpoint_00000{index}" / CHECKPOINT_FILE
        path.parent.mkdir(parents=True)
        path.write_bytes(sweep.encode())
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    root = f"file://{tmp_path}" if as_uri else str(tmp_path)
    found = latest_checkpoint(root, "k-s0")
    assert found is not None and "s2/grid/k-s0/checkpoint_000001" in found
    with storage.open_file(found) as stream:
        assert stream.read() == b"s2"
    assert latest_checkpoint(root, "missing-s0") is None
