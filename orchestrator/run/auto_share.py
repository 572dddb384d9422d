"""Resolve ``resources.gpus_per_trial: auto`` to a share before any trial starts."""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from ..errors import SpecError
from ..spec.plans import TrialPlan
from ..spec.study import StudySpec
from .cluster import cluster_address, connect_ray
from .gpu_sharing import Sharing

Echo = Callable[[str], None]
UNPACKED_LINE = "gpus_per_trial auto: one trial per GPU (trials cannot share a GPU fast here; nothing measured)"


class Measured(Protocol):
    """What a measurement returns (``bench.auto.AutoShare``): the share, its table and record."""

    share: float
    rows: list[dict[str, Any]]

    def table(self) -> list[str]: ...


# The trial configs of the study -> the measured choice. Injected by the caller: the measuring
# code lives in bench/, which imports run/ and so cannot be imported from here.
Chooser = Callable[[list[dict[str, Any]]], Measured]


def resolve_share(spec: StudySpec, sharing: Sharing, configs: list[dict[str, Any]], *, cuda: bool,
                  choose: Optional[Chooser], echo: Echo,
                  cluster_gpus: Optional[float] = None) -> tuple[StudySpec, Optional[Measured]]:
    """``spec`` with a numeric ``gpus_per_trial`` (unchanged unless it is ``auto``), and the
    measurement when one ran. ``cluster_gpus``: the GPUs of the Ray cluster the sweep joins
    (None on this machine's own Ray)."""
    if spec.resources.gpus_per_trial != "auto":
        return spec, None
    no_gpu = not cluster_gpus if cluster_gpus is not None else not cuda
    if no_gpu and spec.train.device == "cuda":  # a trial given no GPU share sees none: each would fail
        raise SpecError(f"train.device: cuda, but resources.gpus_per_trial auto found no GPU "
                        f"{'in the cluster' if cluster_gpus is not None else 'here'}; allowed: train.device auto or cpu")
    result: Optional[Measured] = None
    if cluster_gpus is not None:
        # The measurement runs on this machine; a cluster's nodes are not measured yet, so a trial
        # takes a whole GPU there (never slower than one per GPU), or none on a CPU cluster.
        share = 1.0 if cluster_gpus > 0 else 0.0
        echo(f"gpus_per_trial auto: {'one trial per GPU' if share else 'no GPU in the cluster, trials train on CPU'}"
             f" (a cluster's nodes are not measured; give a share below 1 to pack trials there)")
    elif not cuda:
        share = 0.0
        echo("gpus_per_trial auto: no CUDA device here, so trials train on CPU (nothing measured)")
    elif spec.train.device == "cpu":
        share = 0.0
        echo("gpus_per_trial auto: train.device is cpu, so trials ask for no GPU (nothing measured)")
    elif not sharing.packed or choose is None:
        share = 1.0  # MPS did not start: packing would be slower than one trial per GPU
        echo(UNPACKED_LINE)
    else:
        result = choose(configs)
        share = result.share
        for line in result.table():
            echo(line)
    resources = spec.resources.model_copy(update={"gpus_per_trial": share})
    return spec.model_copy(update={"resources": resources}), result


def cluster_gpus(address: str) -> float:
    """The GPUs of the Ray cluster at ``address`` (joined here; the sweep stays on it)."""
    import ray

    connect_ray(address)
    return float(ray.cluster_resources().get("GPU", 0.0))


def share_for_sweep(spec: StudySpec, sharing: Sharing, plans: Optional[list[TrialPlan]], *, address: Optional[str],
                    cuda: bool, choose: Optional[Chooser], echo: Echo) -> tuple[StudySpec, Optional[Measured]]:
    """:func:`resolve_share` for a sweep of ``plans`` (None: a search, measured on its base config)
    on this machine's Ray or the cluster at ``address`` (else ``$RAY_ADDRESS``)."""
    if spec.resources.gpus_per_trial != "auto":
        return spec, None
    configs = [plan.config for plan in plans] if plans is not None else [spec.trial_config()]
    cluster = cluster_address(address)
    return resolve_share(spec, sharing, configs, cuda=cuda, choose=choose, echo=echo,
                         cluster_gpus=cluster_gpus(cluster) if cluster else None)
