"""A checkpoint waits for its storage, and no epoch is sent without one."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from ray import tune
from ray.train._internal.storage import StorageContext

from orchestrator.run import checkpoint_retry
from orchestrator.run.checkpoint_retry import RAY_STORAGE_MARKER, StorageUnavailable, send_with_checkpoint


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StorageContext:
    """Tune's storage context of a trial, on a local folder, as ``tune.get_context`` gives it."""
    context = StorageContext(storage_path=str(tmp_path / "storage"), experiment_dir_name="sweep",
                             trial_dir_name="trial")
    Path(context.experiment_fs_path).mkdir(parents=True, exist_ok=True)
    Path(context.experiment_fs_path, RAY_STORAGE_MARKER).touch()
    monkeypatch.setattr(tune, "get_context", lambda: SimpleNamespace(get_storage=lambda: context))
    return context


def checkpoint_folder(tmp_path: Path) -> str:
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "trainer.pt").write_bytes(b"state")
    return str(folder)


def break_trial_folder(storage: StorageContext) -> Path:
    """The trial's folder replaced by a file: every write into it fails with an OSError."""
    trial = Path(storage.trial_fs_path)
    trial.mkdir(exist_ok=True)
    trial.rename(trial.with_suffix(".away"))
    trial.write_text("not a folder")
    return trial


def repair(trial: Path) -> None:
    trial.unlink()
    trial.with_suffix(".away").rename(trial)


def test_an_epoch_waits_for_its_storage_and_is_sent_once_it_is_back(storage, tmp_path: Path) -> None:
    trial = break_trial_folder(storage)
    sent: list[tune.Checkpoint] = []
    timer = threading.Timer(0.5, repair, [trial])
    timer.start()
    send_with_checkpoint(sent.append, checkpoint_folder(tmp_path), patience_s=30)
    timer.join()
    assert len(sent) == 1 and Path(sent[0].path, "trainer.pt").read_bytes() == b"state"
    assert (trial / checkpoint_retry.PROBE_FILE).is_file()  # the write that found it back


def test_storage_away_past_the_patience_fails_naming_it_and_sends_nothing(storage, tmp_path: Path) -> None:
    break_trial_folder(storage)
    sent: list[tune.Checkpoint] = []
    with pytest.raises(StorageUnavailable) as raised:
        send_with_checkpoint(sent.append, checkpoint_folder(tmp_path), patience_s=0.3)
    assert sent == []
    assert str(raised.value).startswith(f"checkpoint storage {storage.experiment_fs_path} unreachable for 0 s (")
    assert "\n" not in str(raised.value)


def test_a_storage_without_the_sweeps_marker_is_not_written(storage, tmp_path: Path) -> None:
    # A mount that is gone leaves an empty folder (or none): writing there would put the
    # checkpoint on the node's own disk, where no other node finds it.
    Path(storage.experiment_fs_path, RAY_STORAGE_MARKER).unlink()
    with pytest.raises(StorageUnavailable, match="is missing"):
        send_with_checkpoint(lambda checkpoint: None, checkpoint_folder(tmp_path), patience_s=0.2)
    assert not Path(storage.trial_fs_path).exists()


def test_a_failed_checkpoint_write_after_the_probe_is_one_line_naming_the_storage(storage, tmp_path: Path) -> None:
    def send(checkpoint: tune.Checkpoint) -> None:
        raise OSError("[Errno 5] Input/output error")

    with pytest.raises(StorageUnavailable, match=r"^checkpoint storage .* failed writing a checkpoint \(OSError"):
        send_with_checkpoint(send, checkpoint_folder(tmp_path), patience_s=5)


def test_the_marker_is_the_one_ray_writes_at_the_storage_root() -> None:
    from ray.train._internal.storage import _VALIDATE_STORAGE_MARKER_FILENAME

    assert RAY_STORAGE_MARKER == _VALIDATE_STORAGE_MARKER_FILENAME
