"""``gpus_per_trial: auto`` for a sweep: measure each distinct workload of the study, pick one K.

The sweep (``run/``) cannot import this package (``bench`` already imports ``run``), so the
command line hands :func:`auto_share` to ``run_sweep`` as a callable; tests hand it a fake
``measure`` and drive the same choice, table, cache and record without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from ..train.graphs import spec_reason
from ..train.recipe import TrainSpec
from ..train.setup import resolve_amp, resolve_channels_last
from .choice import KS, PackingCache, PackingKey, choose_k, measured, sharing_here
from .fused import time_fused
from .packing import PackedRun, PackingPool
from .workload import TRAIN_KEYS, Setting, Workload, frozen, timed_model_options

Measure = Callable[[Workload, Setting], list[PackedRun]]


@dataclass(frozen=True)
class AutoShare:
    """The chosen trials per GPU, and what it was chosen from (for the table and the parent run)."""

    k: int
    rows: list[dict[str, Any]]
    fused: bool = False  # K fused in one process (fused_trials), else K processes per GPU

    @property
    def share(self) -> float:
        return 1.0 / self.k

    def table(self) -> list[str]:
        what = "fused_trials auto: aggregate images/s at K trials fused in one process" if self.fused else \
            "gpus_per_trial auto: aggregate images/s at K trials per GPU"
        lines = [f"{what} (x: does not fit or failed)",
                 f"{'workload':<28}" + "".join(f"{'K=' + str(k):>10}" for k in KS) + f"{'chosen':>8}{'cached':>8}"]
        for row in self.rows:
            rates = {run["k"]: run for run in row["runs"]}
            cells = "".join(f"{rates[k]['images_per_second']:>10.0f}" if k in rates and not rates[k]["errors"]
                            else f"{'x':>10}" for k in KS)
            lines.append(f"{row['workload']:<28}{cells}{row['k']:>8}{'yes' if row['cached'] else 'no':>8}")
        lines.append(f"fused_trials auto: {self.k} trials per fused trial" if self.fused else
                     f"gpus_per_trial auto: {self.k} trials per GPU (gpus_per_trial {self.share:g})")
        return lines


def workload_of(config: dict[str, Any], device: torch.device, *, fused: bool = False) -> tuple[Workload, Setting]:
    """The packing workload of one trial config: its model and options, input size, batch, and
    the train keys that change a step (amp, channels_last, compile, CUDA graphs, optimizer),
    named as they resolve on ``device`` (e.g. ``bf16+channels_last+graphs``; ``fused``: members of
    one fused model, whose step is not captured: ``bf16+channels_last+fused``)."""
    data, train = config["data"], TrainSpec.model_validate(config["train"])
    stored = int(data.get("options", {}).get("image_size") or 32)
    recipe = train.model_dump(include=set(TRAIN_KEYS))  # the spec's defaults for keys the config leaves out
    workload = Workload(model=config["model"]["name"], batch_size=int(data["batch_size"]),
                        stored_size=stored, input_size=data.get("image_size"),
                        model_options=frozen(timed_model_options(config["model"])),
                        train=tuple((key, frozen(recipe[key])) for key in TRAIN_KEYS))
    return workload, Setting(name=precision_name(train, device, fused=fused))


def precision_name(train: TrainSpec, device: torch.device, *, fused: bool = False) -> str:
    """What a step of ``train`` runs as on ``device``: the trainer's own resolution of amp,
    channels_last, compile and CUDA graphs, so two recipes that train alike share a measurement."""
    autocast = resolve_amp(train.amp, device)
    parts = [{torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[autocast]]
    if resolve_channels_last(train.channels_last, device, autocast):
        parts.append("channels_last")
    if train.compile:
        parts.append("compile")
    if fused:
        parts.append("fused")
    elif train.cuda_graphs != "off" and spec_reason(train, device, autocast) is None:
        parts.append("graphs")
    return "+".join(parts)


def pool_measure(device: torch.device) -> Measure:
    """The real measurement: K = 1, 2, 4, 8 processes on ``device`` (the bench's packing code)."""
    def measure(workload: Workload, setting: Setting) -> list[PackedRun]:
        with PackingPool(max(KS), device) as pool:
            return [pool.run(workload, setting, k) for k in KS]
    return measure


def fused_measure(device: torch.device) -> Measure:
    """The real measurement of fused trials: K = 1, 2, 4, 8 members in one process on ``device``."""
    def measure(workload: Workload, setting: Setting) -> list[PackedRun]:
        dataset = workload.dataset()
        return [time_fused(workload, setting, device, k, dataset) for k in KS]
    return measure


def auto_fused(configs: list[dict[str, Any]], *, device: torch.device, measure: Optional[Measure] = None,
               cache: Optional[PackingCache] = None) -> AutoShare:
    """``fused_trials: auto``: as :func:`auto_share`, with K members fused in one process; cached
    apart from the packing measurements (its precision ends in ``+fused``)."""
    return auto_share(configs, device=device, measure=measure or fused_measure(device), cache=cache, fused=True)


def auto_share(configs: list[dict[str, Any]], *, device: torch.device, measure: Optional[Measure] = None,
               cache: Optional[PackingCache] = None, fused: bool = False) -> AutoShare:
    """One K for the study: each distinct (model, input size, batch, precision) measured (the
    cache first), each one's K by :func:`choose_k`, and the smallest of those. The smallest, not
    the largest: every trial runs at the one share Ray is given, and a workload packed past its
    own best K loses throughput (and may not fit), while one packed below it loses only the
    last few percent its K was chosen within."""
    measure = measure or pool_measure(device)
    cache = cache or PackingCache()
    device_mib = torch.cuda.get_device_properties(device).total_memory / 2**20 if device.type == "cuda" else None
    sharing = sharing_here() if device.type == "cuda" else None  # one probe of the daemon, not one a config
    rows, seen = [], set()
    for config in configs:
        workload, setting = workload_of(config, device, fused=fused)
        size = workload.input_size or workload.stored_size
        key = PackingKey.here(device, model=workload.model, input_size=size, batch_size=workload.batch_size,
                              precision=setting.name,
                              options=str(dict(workload.model_options)) if workload.model_options else "",
                              sharing=sharing)
        if key in seen:
            continue
        seen.add(key)
        runs, cached = measured(key, lambda: measure(workload, setting), cache)
        k = choose_k(runs, device_mib) or 1  # nothing ran cleanly: one trial per GPU
        model = f"{workload.model}({key.options.strip('{}')})" if key.options else workload.model
        rows.append({"workload": f"{model} {size}px b{workload.batch_size} {setting.name}", "k": k,
                     "cached": cached, "runs": [vars(run) for run in runs]})
    return AutoShare(min((row["k"] for row in rows), default=1), rows, fused=fused)
