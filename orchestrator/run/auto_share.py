"""Resolve ``resources.gpus_per_trial: auto`` to a share before any trial starts."""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from ..spec.study import StudySpec
from .gpu_sharing import Sharing

Echo = Callable[[str], None]


class Measured(Protocol):
    """What a measurement returns (``bench.auto.AutoShare``): the share, its table and record."""

    share: float
    rows: list[dict[str, Any]]

    def table(self) -> list[str]: ...


# The trial configs of the study -> the measured choice. Injected by the caller: the measuring
# code lives in bench/, which imports run/ and so cannot be imported from here.
Chooser = Callable[[list[dict[str, Any]]], Measured]


def resolve_share(spec: StudySpec, sharing: Sharing, configs: list[dict[str, Any]], *, cuda: bool,
                  choose: Optional[Chooser], echo: Echo) -> tuple[StudySpec, Optional[Measured]]:
    """``spec`` with a numeric ``gpus_per_trial`` (unchanged unless it is ``auto``), and the
    measurement when one ran."""
    if spec.resources.gpus_per_trial != "auto":
        return spec, None
    result: Optional[Measured] = None
    if not cuda:
        share = 0.0
        echo("gpus_per_trial auto: no CUDA device here, so trials train on CPU (nothing measured)")
    elif not sharing.packed or choose is None:
        share = 1.0  # MPS did not start: packing would be slower than one trial per GPU
        echo("gpus_per_trial auto: one trial per GPU (trials cannot share a GPU fast here; nothing measured)")
    else:
        result = choose(configs)
        share = result.share
        for line in result.table():
            echo(line)
    resources = spec.resources.model_copy(update={"gpus_per_trial": share})
    return spec.model_copy(update={"resources": resources}), result
