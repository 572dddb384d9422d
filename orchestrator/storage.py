"""Where checkpoints live: a local folder, or a URI every node of a cluster reaches.

``resources.storage`` is Ray Tune's storage path. On one machine a folder is enough; on a
cluster it must be a folder every node mounts (NFS) or an object-store URI such as
``s3://bucket/prefix`` (endpoint and keys from ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` ...,
read by pyarrow on each node). URIs go through ``pyarrow.fs``, the layer Tune itself writes
them with, so this module reads what Tune wrote without a client of its own.
"""

from __future__ import annotations

import fnmatch
import io
import posixpath
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit


def is_uri(location: str) -> bool:
    return "://" in location


def join(location: str, *parts: str) -> str:
    """``location/parts...``: a local path is made absolute (trials run in other folders); a
    URI keeps its scheme and query (``?endpoint_override=...``) around the joined path."""
    if not is_uri(location):
        return str(Path(location).resolve().joinpath(*parts))
    scheme, netloc, path, query, fragment = urlsplit(location)
    return urlunsplit((scheme, netloc, posixpath.join(path or "/", *parts), query, fragment))


def files_newest_first(location: str, pattern: str) -> list[str]:
    """Every file under ``location`` whose relative path matches the glob ``pattern`` (``*``
    within one folder name), newest first."""
    if not is_uri(location):
        found = sorted(Path(location).glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        return [str(path) for path in found]
    import pyarrow.fs

    filesystem, root = pyarrow.fs.FileSystem.from_uri(location)
    depth = pattern.count("/") + 1
    infos = filesystem.get_file_info(pyarrow.fs.FileSelector(root, recursive=True, allow_not_found=True))
    matches = [info for info in infos if info.type == pyarrow.fs.FileType.File
               and _matches(posixpath.relpath(info.path, root), pattern, depth)]
    matches.sort(key=lambda info: info.mtime_ns or 0, reverse=True)
    return [join(location, posixpath.relpath(info.path, root)) for info in matches]


def _matches(relative: str, pattern: str, depth: int) -> bool:
    # fnmatch's * crosses "/", so compare one folder level at a time, as Path.glob does.
    parts = relative.split("/")
    return len(parts) == depth and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern.split("/")))


def open_file(location: str) -> BinaryIO:
    """A readable binary file at a local path or a URI."""
    if not is_uri(location):
        return open(location, "rb")
    import pyarrow.fs

    filesystem, path = pyarrow.fs.FileSystem.from_uri(location)
    with filesystem.open_input_file(path) as stream:
        return io.BytesIO(stream.read())
