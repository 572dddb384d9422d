"""Whether the sweep can run where it is asked to: the Ray cluster answers, and a trial fits.

Ray Tune keeps a trial PENDING for as long as no node has what it asks for, which on a fixed
machine is forever and says nothing. On local Ray the sweep is refused before anything is
written; on a cluster (which may autoscale) a line every 30 s says what the pending trials
wait for.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import ray
from ray.tune import Callback
from ray.tune.experiment import Trial

from .cluster import check_ray_address
from ..errors import SpecError
from ..spec.resources import ResourcesSpec

WAIT_REPORT_SECONDS = 30.0
# Ray's resource name -> (the spec field that asks for it, the unit a message names).
FIELDS = {"CPU": ("cpus_per_trial", "CPU"), "GPU": ("gpus_per_trial", "GPU")}


def per_trial(resources: ResourcesSpec, gpus: Optional[float] = None) -> dict[str, float]:
    """What one trial asks Ray for, in Ray's resource names; ``gpus``: its share as the sweep
    settled it (a whole GPU where packing could not run fast), else the spec's."""
    # auto resolves to what the machine has (no GPU without one, at most one), so it never lacks.
    if gpus is None:
        gpus = 0.0 if resources.gpus_per_trial == "auto" else resources.gpus_per_trial
    return {"CPU": resources.cpus_per_trial, "GPU": gpus}


def local_nodes() -> list[dict[str, float]]:
    """The resources of each node trials may run on: the running Ray's (which counts what
    ``ray.init`` declared, not what is installed), else what ``ray.init()`` would detect here."""
    if ray.is_initialized():
        return [node["Resources"] for node in ray.nodes() if node["Alive"]]
    # Ray's own detection, so the check and the Ray the sweep then starts agree (cgroup CPU
    # quotas, CUDA_VISIBLE_DEVICES); Ray exposes no public call for it before ray.init.
    from ray._private.accelerators import get_accelerator_manager_for_resource
    from ray._private.utils import get_num_cpus

    gpus = get_accelerator_manager_for_resource("GPU")
    visible = gpus.get_current_process_visible_accelerator_ids()
    count = len(visible) if visible is not None else gpus.get_current_node_num_accelerators()
    return [{"CPU": float(get_num_cpus()), "GPU": float(count)}]


def shortfall(asked: dict[str, float], nodes: list[dict[str, float]]) -> Optional[tuple[str, float]]:
    """(resource, how much the closest node has) for the first thing no node can give a whole
    trial, or None when some node fits one. The closest node is one with the GPUs asked for
    when any has them (they are the scarce part), else the one meeting most of the request."""
    if any(all(node.get(name, 0.0) >= amount for name, amount in asked.items()) for node in nodes):
        return None
    with_gpus = [node for node in nodes if node.get("GPU", 0.0) >= asked.get("GPU", 0.0)]
    closest = max(with_gpus or nodes, key=lambda node: sum(node.get(k, 0.0) >= v for k, v in asked.items()))
    name = next(name for name, amount in asked.items() if closest.get(name, 0.0) < amount)
    return name, closest.get(name, 0.0)


def check_local(resources: ResourcesSpec, nodes: Optional[list[dict[str, float]]] = None) -> None:
    """Refuse (exit 2) a sweep whose trials can never start on local Ray, naming the override that fits."""
    nodes = local_nodes() if nodes is None else nodes
    asked = per_trial(resources)
    missing = shortfall(asked, nodes)
    if missing is None:
        return
    name, has = missing
    field, unit = FIELDS.get(name, (name, name))
    fits = f"resources.{field}={has:g}" + (" (train on CPU)" if name == "GPU" and has == 0 else "")
    raise SpecError(f"resources.{field}={asked[name]:g} asks for {asked[name]:g} {unit} per trial "
                    f"but this machine has {has:g}; run with {fits}")


def check_target(address: Optional[str], resources: ResourcesSpec) -> None:
    """A cluster must answer (it may autoscale to fit the trials); this machine must fit them."""
    if address:
        check_ray_address(address)
    else:
        check_local(resources)


def _amounts(resources: dict[str, float]) -> str:
    return ", ".join(f"{resources.get(name, 0.0):g} {name}" for name in FIELDS)


class PendingReporter(Callback):
    """Every ``interval`` seconds while trials are PENDING and none runs, one line on what they
    wait for and what the cluster has free (an autoscaler may still be adding nodes)."""

    def __init__(self, asked: dict[str, float], echo: Callable[[str], None], *,
                 interval: float = WAIT_REPORT_SECONDS, clock: Callable[[], float] = time.monotonic,
                 available: Callable[[], dict[str, float]] = ray.available_resources) -> None:
        self.asked, self.echo, self.interval = asked, echo, interval
        self.clock, self.available = clock, available
        self.since: Optional[float] = None

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks with its experiment state; the functions may be bound to a test.
        return {k: v for k, v in self.__dict__.items() if k not in ("echo", "clock", "available")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, echo=print, clock=time.monotonic, available=ray.available_resources)

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        pending = [t for t in trials if t.status == Trial.PENDING]
        if not pending or any(t.status == Trial.RUNNING for t in trials):
            self.since = None
            return
        now = self.clock()
        if self.since is None:
            self.since = now
        elif now - self.since >= self.interval:
            self.since = now
            self.echo(f"{len(pending)} trials waiting for {_amounts(self.asked)} each; "
                      f"the cluster has {_amounts(self.available())} free")
