"""Checkpoint storage: local folders and URIs (through pyarrow.fs) are read the same way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from orchestrator import storage
from orchestrator.run.trial import CHECKPOINT_FILE, resumable_state


def test_join_keeps_a_uri_scheme_and_query_and_makes_local_paths_absolute() -> None:
    assert storage.join("s3://bucket/prefix?endpoint_override=minio:9000", "study", "run") == \
        "s3://bucket/prefix/study/run?endpoint_override=minio:9000"
    assert storage.join("s3://bucket", "study") == "s3://bucket/study"
    assert storage.join("ray_results", "study") == str(Path("ray_results").resolve() / "study")


@pytest.mark.parametrize("as_uri", [False, True], ids=["folder", "file-uri"])
def test_a_resumed_run_continues_from_its_newest_checkpoint_of_an_epoch_it_logged(tmp_path: Path, as_uri: bool) -> None:
    saved = [("s1", "k-s0", 1), ("s2", "k-s0", 2), ("s2", "k-s0", 3), ("s2", "other-s0", 4)]
    for index, (sweep, key, epoch) in enumerate(saved):
        path = tmp_path / sweep / "grid" / key / f"checkpoint_00000{index}" / CHECKPOINT_FILE
        path.parent.mkdir(parents=True)
        torch.save({"epoch": epoch, "sweep": sweep}, path)
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    root = f"file://{tmp_path}" if as_uri else str(tmp_path)
    assert resumable_state(root, "k-s0", logged=3) == {"epoch": 3, "sweep": "s2"}
    # The driver stopped before it logged epoch 3: continuing from there would lose epoch 3.
    assert resumable_state(root, "k-s0", logged=2) == {"epoch": 2, "sweep": "s2"}
    assert resumable_state(root, "k-s0", logged=0) is None
    assert resumable_state(root, "missing-s0", logged=9) is None
