"""A trial's checkpoint storage away for a while (an NFS mount gone, an object store
restarting): the epoch waits for it with backoff, then is reported with its checkpoint. Past
``ORCHESTRATE_STORAGE_PATIENCE`` seconds the trial fails with one line naming the storage.

An epoch is never reported without its checkpoint: Tune writes the checkpoint before it sends
the result, and raises (sending nothing) when it cannot. So the report is not retried as a whole
(a failed ``tune.report`` has already advanced Tune's iteration and checkpoint counters);
instead the storage is tried with a small write of its own until it takes one, and only then
is the epoch reported.
"""

from __future__ import annotations

import posixpath
from typing import Callable, Optional

from ray import tune

from ..retry import Backoff, GaveUp, call_with_retry, one_line, patience_from_env

PATIENCE_ENV = "ORCHESTRATE_STORAGE_PATIENCE"
DEFAULT_PATIENCE = 300.0  # a mount or an object store back within 5 minutes
PROBE_FILE = ".storage-probe"
# Tune writes this file at the experiment's root when the sweep starts; Ray refuses to persist a
# checkpoint where it is missing (storage a node cannot see: a mount that is gone).
RAY_STORAGE_MARKER = ".validate_storage_marker"


class StorageUnavailable(GaveUp):
    """The checkpoint storage stayed unwritable past ``ORCHESTRATE_STORAGE_PATIENCE``."""


def patience() -> float:
    """Read in the sweep driver and handed to trials: workers of a running Ray cluster do not see
    variables set in the driver's environment."""
    return patience_from_env(PATIENCE_ENV, DEFAULT_PATIENCE)


def send_with_checkpoint(send: Callable[[tune.Checkpoint], None], folder: str, *,
                         patience_s: Optional[float]) -> None:
    """``send(checkpoint of folder)`` once the trial's storage takes a write, waiting up to
    ``patience_s`` seconds for it (None: the default)."""
    storage = tune.get_context().get_storage()  # Tune's own paths and filesystem (pyarrow)
    where = f"checkpoint storage {location(storage.storage_filesystem, storage.experiment_fs_path)}"
    backoff = Backoff(patience=DEFAULT_PATIENCE if patience_s is None else patience_s)
    call_with_retry(lambda: probe(storage.storage_filesystem, storage.experiment_fs_path, storage.trial_fs_path),
                    backoff=backoff, transient=lambda error: isinstance(error, OSError), what=where,
                    gives_up=StorageUnavailable,
                    on_wait=lambda error, delay: print(f"{where} unwritable ({one_line(error)}); retrying in "
                                                       f"{delay:.0f} s", flush=True))
    try:
        send(tune.Checkpoint.from_directory(folder))
    except OSError as error:  # away again between the probe and the checkpoint: nothing was sent
        raise StorageUnavailable(f"{where} failed writing a checkpoint ({type(error).__name__}: "
                                 f"{one_line(error)})") from error


def location(filesystem, path: str) -> str:  # a pyarrow FileSystem
    """A path as the user wrote it in ``resources.storage``: pyarrow keeps the scheme apart."""
    return path if filesystem.type_name == "local" else f"{filesystem.type_name}://{path}"


def probe(filesystem, experiment: str, trial: str) -> None:  # a pyarrow FileSystem
    """Raise OSError unless the storage is the one the sweep started on and takes a write in
    the trial's folder. ``create_dir`` alone is not enough: on a mount that is gone it would
    quietly make the folders on the node's own disk."""
    import pyarrow.fs

    marker = posixpath.join(experiment, RAY_STORAGE_MARKER)
    if filesystem.get_file_info(marker).type != pyarrow.fs.FileType.File:
        raise FileNotFoundError(f"{marker} is missing")
    filesystem.create_dir(trial)
    with filesystem.open_output_stream(posixpath.join(trial, PROBE_FILE)) as stream:
        stream.write(b"ok")
