"""The five sections of :class:`~.gpu.GpuBench` as text tables, for ``orchestrate bench gpu``."""

from __future__ import annotations

from typing import Optional

from .gpu import GpuBench
from .packing import PackedRun, recommended_k, speedups
from .projection import EPOCH_IMAGES, EPOCHS, GOAL_WALL_HOURS, GPUS, SEED_GPU_HOURS, SEEDS


def _mib(value: Optional[float]) -> str:
    return f"{value:8,.0f}" if value is not None else f"{'-':>8}"


def precision_lines(bench: GpuBench) -> list[str]:
    lines = ["1. trainer vs bare loop (resnet20, CIFAR-shaped uint8 on the device, crop+flip, SGD)",
             f"   {'setting':<20}{'dtype':<10}{'trainer img/s':>14}{'bare img/s':>12}{'ratio':>7}{'peak MiB':>9}"]
    for row in bench.precision:
        if row.error:
            lines.append(f"   {row.setting:<20}{row.dtype:<10}error: {row.error}")
            continue
        lines.append(f"   {row.setting:<20}{row.dtype:<10}{row.trainer:14,.0f}{row.bare:12,.0f}"
                     f"{row.ratio:7.2f}{_mib(row.peak_mib):>9}")
    for row in bench.small_batch:
        lines.append(f"   {row.setting + ', batch 128':<30}" + (f"error: {row.error}" if row.error else
                     f"{row.trainer:14,.0f}{row.bare:12,.0f}{row.ratio:7.2f}"))
    if bench.quick:
        lines.append("   (--quick: amp+compile, CUDA graphs and batch 128 not run)")
    return lines


def packing_lines(bench: GpuBench) -> list[str]:
    lines = [f"2. packing: K trainer processes on one device ({bench.packing_setting}; gpus_per_trial = 1/K)",
             f"   {'model':<14}{'K':>3}{'aggregate img/s':>17}{'speed-up':>10}{'peak MiB each':>15}  errors"]
    for model, runs in bench.packing.items():
        gains = speedups(runs)
        for run in runs:
            peak = max(run.peak_mib) if run.peak_mib else None
            lines.append(f"   {model:<14}{run.k:>3}{run.images_per_second:17,.0f}{gains[run.k]:10.2f}"
                         f"{_mib(peak):>15}  {'; '.join(run.errors)}".rstrip())
        lines.append(f"   {model:<14}recommended K: {recommended_k(runs) or '-'}")
    return lines


def loader_lines(bench: GpuBench) -> list[str]:
    lines = ["3. data path on the device (in-memory loader, normalize included)",
             f"   {'augment':<14}{'img/s':>12}{'x fastest trainer':>19}"]
    for row in bench.loader:
        flag = "" if row.headroom >= 1 else "  <- slower than the trainer"
        lines.append(f"   {row.augment:<14}{row.images_per_second:12,.0f}{row.headroom:19.1f}{flag}")
    if bench.policies:
        lines += ["   per-image policies alone: batched (each image its own ops) vs torchvision image by image",
                  f"   {'policy':<14}{'batched img/s':>14}{'per-image img/s':>17}{'ratio':>8}"]
        lines += [f"   {row.policy:<14}{row.batched:14,.0f}{row.per_image:17,.0f}{row.ratio:8.1f}"
                  for row in bench.policies]
    return lines


def projection_lines(bench: GpuBench) -> list[str]:
    projection = bench.projection
    if projection is None:
        return []
    lines = [f"4. seed 003 projection: {len(projection.rows) + len(projection.failed)} of {projection.total} rows of "
             f"the study spec, each at its own batch, input size and precision, {EPOCH_IMAGES:,} images per epoch",
             f"   {'model':<20}{'px':>4}{'batch':>6}{'img/s':>10}{'s/epoch':>9}{'K':>3}{'GPU-s/epoch':>12}{'GPU-h':>8}"]
    for row in projection.rows:
        lines.append(f"   {row.label:<20}{row.input_size:>4}{row.batch_size:>6}{row.images_per_second:10,.0f}"
                     f"{row.epoch_seconds:9.1f}{row.k:>3}{row.gpu_seconds_per_epoch:12.1f}{row.gpu_hours:8.2f}")
    for label, error in projection.failed.items():
        lines.append(f"   {label:<20}error: {error}")
    scope = "whole table" if projection.complete else "measured rows only"
    lines += [f"   {scope} x {SEEDS} seeds x {EPOCHS} epochs: {projection.gpu_hours:,.1f} GPU-hours, "
              f"{projection.wall_hours:,.2f} h wall on {GPUS} such devices (seed 003: ~{SEED_GPU_HOURS} "
              f"V100-hours for one seed)",
              f"   goal: under {GOAL_WALL_HOURS:g} h wall on {GPUS} H100-class GPUs: "
              + ("met" if projection.meets_goal and projection.complete else
                 "met by the rows measured" if projection.meets_goal else "not met")]
    return lines


def _rate(runs: list[PackedRun], k: int, base: float) -> str:
    run = next((r for r in runs if r.k == k), None)
    if run is None:
        return f"{'-':>18}"
    if run.errors:
        return f"{'error':>18}"
    return f"{run.images_per_second:11,.0f} ({run.images_per_second / base if base else 0:4.2f})"


def sharing_lines(bench: GpuBench) -> list[str]:
    sharing = bench.sharing
    if sharing is None:
        return []
    lines = [f"5. K trials on one device ({bench.packing_setting}): aggregate img/s (x one trial alone)",
             f"   {sharing.mps_note}",
             f"   {'workload':<16}{'K':>3}{'no MPS':>18}{'MPS':>18}{'fused':>18}"]
    for row in sharing.rows:
        base = next((r.images_per_second for r in row.plain if r.k == 1 and not r.errors), 0.0)
        for k in sorted({r.k for r in (*row.plain, *row.mps, *row.fused)}):
            lines.append(f"   {row.label:<16}{k:>3}{_rate(row.plain, k, base)}{_rate(row.mps, k, base)}"
                         f"{_rate(row.fused, k, base)}")
        errors = sorted({e for r in (*row.plain, *row.mps, *row.fused) for e in r.errors})
        lines += [f"   {row.label:<16}error: {error}" for error in errors]
        lines.append(f"   {row.label:<16}auto would choose: gpus_per_trial 1/{row.auto_gpus_k or '-'}, "
                     f"fused_trials {row.auto_fused_k or '-'}")
    return lines


def format_bench(bench: GpuBench) -> list[str]:
    """The five sections as text tables, one line each."""
    head = f"bench gpu on {bench.device} ({bench.device_name}){', quick' if bench.quick else ''}"
    sections = [precision_lines(bench), packing_lines(bench), loader_lines(bench), projection_lines(bench),
                sharing_lines(bench)]
    return [head, *(line for section in sections for line in ["", *section]),
            "", f"{bench.seconds:.0f} s in all"]
