"""Dataset registry: ``@register_dataset("name", ...)`` builders returning :class:`DatasetTensors`.

Besides the builder, a registration records what is known about the dataset before decoding it:
its input size, class count, published channel statistics and, for datasets distributed as one
archive, where that archive comes from (see :mod:`.archive`).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

from pydantic import Field

from ..limits import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE
from ..options import lookup_in
from .tensors import DatasetTensors

if TYPE_CHECKING:
    from .archive import ArchiveSource

DatasetBuilder = Callable[..., DatasetTensors]

# Builders' option types with their bounds: a spec's options are checked against them when it is
# read (``options.type_error``), so a 0 px side or a negative count is one line naming the option,
# not the decoder's error once the sweep has started.
ImageSide = Annotated[int, Field(ge=MIN_IMAGE_SIDE, le=MAX_IMAGE_SIDE)]
Count = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0)]


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about a dataset without decoding it (None: depends on options)."""

    name: str
    builder: DatasetBuilder
    input_size: Optional[tuple[int, int, int]] = None
    num_classes: Optional[int] = None
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None
    archive: Optional[ArchiveSource] = None


_datasets: dict[str, DatasetInfo] = {}


def register_dataset(
    name: str,
    *,
    input_size: Optional[tuple[int, int, int]] = None,
    num_classes: Optional[int] = None,
    mean: Optional[tuple[float, ...]] = None,
    std: Optional[tuple[float, ...]] = None,
    archive: Optional[ArchiveSource] = None,
) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Register a builder ``fn(root: Path, download: bool, **options)``; duplicates raise."""

    def decorate(builder: DatasetBuilder) -> DatasetBuilder:
        if name in _datasets:
            raise ValueError(f"dataset {name!r} is already registered")
        _datasets[name] = DatasetInfo(name, builder, input_size, num_classes, mean, std, archive)
        return builder

    return decorate


def list_datasets() -> list[str]:
    return sorted(_datasets)


def dataset_options(name: str) -> dict[str, inspect.Parameter] | None:
    """Options a dataset builder takes from ``data.options`` (root and download come from data)."""
    builders = {key: info.builder for key, info in _datasets.items()}
    return lookup_in("dataset", builders, supplied=("root", "download"))(name)


def dataset_info(name: str) -> DatasetInfo:
    """The registration of ``name``; unknown names raise ``KeyError`` listing the valid ones."""
    dataset_options(name)
    return _datasets[name]


def stored_input_size(name: str, options: dict[str, Any]) -> Optional[tuple[int, int, int]]:
    """(channels, height, width) of dataset ``name``'s images as stored, where known before
    decoding: its registration's, else its builder's ``image_size`` and ``in_chans`` options (as
    given, else their defaults); None where only the files say (an imagefolder without image_size)."""
    info = dataset_info(name)
    if info.input_size is not None:
        return info.input_size
    params = inspect.signature(info.builder).parameters

    def option(key: str) -> Optional[int]:
        value = options.get(key, params[key].default if key in params else None)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None

    side = option("image_size")
    return None if side is None else (option("in_chans") or 3, side, side)


def default_root() -> Path:
    return Path(os.environ.get("ORCHESTRATE_DATA", Path.home() / ".cache" / "orchestrate" / "data"))


def load_dataset(
    name: str, *, root: str | Path | None = None, download: bool = True, **options: Any
) -> DatasetTensors:
    """Decode (or read the cache of) dataset ``name``."""
    info = dataset_info(name)
    tensors = info.builder(Path(root) if root else default_root(), download, **options)
    if info.mean is not None:  # published statistics win over ones computed from the cache
        tensors.mean, tensors.std = list(info.mean), list(info.std)
    return tensors
