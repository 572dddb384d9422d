"""How many plans of a fixed stage train fused in one trial (``resources.fused_trials``), and
which: groups of plans that :func:`~orchestrator.train.fusable.fusable` accepts.

An explicit K > 1 that cannot hold is refused before anything starts; ``auto`` falls back to
one plan per trial and says why, so a study never silently trains otherwise than asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from ..errors import SpecError
from ..train.device_plan import trial_device
from ..train.fusable import fusable
from .plans import TrialPlan

if TYPE_CHECKING:
    from .study import StudySpec

class FusedChoice(Protocol):
    """What a measurement of fused K returns (``bench.auto.AutoShare``): K, its table and record."""

    k: int
    rows: list[dict[str, Any]]

    def table(self) -> list[str]: ...


# The study's trial configs -> the measured choice, injected by the command line: the measuring
# code lives in bench/, which imports run/ (the sweep), and tests hand in a fake.
FusedChooser = Callable[[list[dict[str, Any]]], FusedChoice]


def unmeasured(spec: StudySpec, *, cuda: bool, cluster: bool, gpu_share: Optional[float] = None) -> str:
    """Why ``fused_trials: auto`` is not measured for the study's trials ('' when it is): a fused
    model pays only on a GPU, and only this machine's can be measured before the trials start.
    ``cuda``: this machine has CUDA; ``cluster``: the trials run on a Ray cluster's nodes;
    ``gpu_share``: a trial's GPU share as settled (default: the spec's, ``auto`` as a whole GPU)."""
    if cluster:
        return "a cluster's GPUs are not measured from here; give fused_trials: K to fuse there"
    share = spec.resources.gpu_share if gpu_share is None else gpu_share
    if trial_device(spec.train, share).type != "cuda":
        return "the trials train on CPU: a fused model only pays on a GPU"
    return "" if cuda else "no CUDA here to measure a fused model on"


def fused_size(spec: StudySpec, plans: Optional[list[TrialPlan]], *, unmeasured: str = "",
               choose: Optional[FusedChooser] = None) -> tuple[int, str]:
    """(K, why) for the study's fixed plans: K = 1 with a one-line reason where fusing does not
    apply; raises SpecError for an explicit K > 1 that cannot apply. ``auto`` is measured by
    ``choose`` (its table follows the line) unless :func:`unmeasured` gave a reason; without
    ``choose`` (a dry run) the line says it will be."""
    asked = spec.resources.fused_trials
    if asked == 1:
        return 1, ""
    explicit = asked != "auto"
    reason = _blocker(spec, plans)
    if reason:
        if explicit:
            raise SpecError(f"resources.fused_trials: {reason}; allowed here: 1 or auto (got {asked})")
        return 1, f"fused trials: 1 per trial ({reason})"
    if explicit:
        return int(asked), f"fused trials: up to {asked} plans of one shape per trial"
    if unmeasured:
        return 1, f"fused trials: auto chose 1 ({unmeasured})"
    if choose is None:
        return 1, "fused trials: auto, measured on the GPU before the trials start (K = 1, 2, 4, 8 fused)"
    chosen = choose([plan.config for plan in plans])
    return chosen.k, "\n".join(chosen.table())


def _blocker(spec: StudySpec, plans: Optional[list[TrialPlan]]) -> str:
    """Why this study's plans cannot fuse ('' when they can); ``plans`` is None for a search."""
    if spec.search.scheduler is not None:
        return (f"search.scheduler ({spec.search.scheduler.name}) stops trials one by one; fused members "
                f"train in one trial")
    if plans is None:
        return "a search proposes its trials one at a time, so there is no group to fuse"
    if any(plan.config["train"].get("cuda_graphs") == "on" for plan in plans):
        return "train.cuda_graphs: on captures one trial's step; fused members train in one step that is not captured"
    ok, reason = fusable([plan.config for plan in plans])
    return "" if ok else reason


def fused_groups(plans: list[TrialPlan], size: int) -> list[list[TrialPlan]]:
    """``plans`` (of one shape: :func:`fused_size` accepted them) in groups of at most ``size``, in order."""
    return [plans[i:i + size] for i in range(0, len(plans), size)]
