"""``orchestrate bench ...``: measurements of this machine, ours beside a baseline in one run."""

from __future__ import annotations

import os
from typing import Optional

import click

from ..bench.gpu_cli import gpu_command
from ..bench.gpu_sweep import OPTIONAL
from ..errors import SpecError
from . import friendly_errors
from .data import ROOT_HELP, check_dataset

# Trials, epochs, runs, batches: refused by click below 1, before a bench starts Ray, writes a
# store or measures anything (a zero once ran a warm-up sweep first, or printed 0 images/s).
COUNT = click.IntRange(min=1)

@click.group()
def bench() -> None:
    """Measurements of this machine."""


bench.add_command(gpu_command, "gpu")


@bench.command("trials")
@click.option("--trials", default=8, show_default=True, type=COUNT, help="One-epoch trials per side.")
@click.option("--cpus-per-trial", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@friendly_errors
def bench_trials(trials: int, cpus_per_trial: float) -> None:
    """Seconds per trial with Tune's workers reused between trials vs a fresh worker per trial."""
    from ..bench.trials import bench_trials as run

    result = run(trials, cpus_per_trial=cpus_per_trial)
    click.echo(f"{trials} one-epoch resnet20 trials on synthetic data per side, {cpus_per_trial:g} CPU each")
    click.echo(f"workers reused (default) : {result.reused:8.2f} s per trial")
    click.echo(f"fresh worker per trial   : {result.fresh:8.2f} s per trial")
    click.echo(f"ratio                    : {result.ratio:8.2f}x")


@bench.command("loader")
@click.option("--dataset", default="synthetic", show_default=True, help="A registered dataset.")
@click.option("--root", default=None, help=ROOT_HELP)
@click.option("--augment", default="standard", show_default=True, help="none, standard, randaugment, autoaugment.")
@click.option("--batch-size", default=256, show_default=True, type=COUNT)
@click.option("--batches", default=20, show_default=True, type=COUNT, help="Timed batches per pipeline.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0),
              help="DataLoader worker processes.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--threads", default=None, type=COUNT,
              help="Intra-op threads of this process (default: torch's); DataLoader workers use one each.")
@friendly_errors
def bench_loader(dataset: str, root: Optional[str], augment: str, batch_size: int, batches: int,
                 workers: int, device: str, threads: Optional[int]) -> None:
    """Images/s of the in-memory tensor pipeline vs a torchvision DataLoader with per-image transforms."""
    import torch

    from ..data import load_dataset
    from ..bench.loader import bench_loader as run
    from ..train.setup import resolve_device

    check_dataset(dataset, {})
    size = {"train_size": (batches + 1) * batch_size} if dataset == "synthetic" else {}
    tensors = load_dataset(dataset, root=root, download=False, **size)
    target = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    try:
        result = run(tensors, batch_size=batch_size, augment=augment, batches=batches, workers=workers,
                     device=target)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    click.echo(f"{dataset} {tuple(tensors.input_size)}, augment {augment}, batch {batch_size}, "
               f"{result.images} images per side on {target}, {torch.get_num_threads()} threads")
    click.echo(f"in-memory tensor pipeline : {result.in_memory:12,.0f} images/s")
    click.echo(f"torchvision DataLoader    : {result.torchvision:12,.0f} images/s ({workers} workers)")
    click.echo(f"ratio                     : {result.ratio:12.1f}x")


@bench.command("sweep")
@click.option("--trials", default=8, show_default=True, type=COUNT, help="Trials (seeds of one configuration).")
@click.option("--epochs", default=3, show_default=True, type=COUNT, help="Epochs per trial.")
@click.option("--slots", default=2, show_default=True, type=COUNT, help="Trials at a time, one CPU each.")
@click.option("--train-size", default=1024, show_default=True, type=COUNT,
              help="Synthetic training images per trial.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also run bare Ray Tune + MLflowLoggerCallback (skip it for long sweeps).")
@friendly_errors
def bench_sweep(trials: int, epochs: int, slots: int, train_size: int, baseline: bool) -> None:
    """Efficiency of plain processes, bare Ray Tune + MLflowLoggerCallback and `orchestrate sweep`,
    beside Ray Tune alone running trials that do nothing (the floor of any Tune-based sweep)."""
    from ..bench.sweep import BASELINE, OURS, bench_sweep as run

    result = run(trials, epochs, slots=slots, train_size=train_size, baseline=baseline)
    click.echo(f"{trials} trials x {epochs} epochs, resnet20 on {train_size} synthetic 32x32 images, "
               f"{slots} slots; one trial's Trainer.fit() alone: {result.fit_seconds:.1f} s")
    click.echo(f"{'side':<38} {'wall s':>8} {'efficiency':>10} {'start-up s':>10} {'overhead s/trial':>16} "
               f"{'driver MB':>9}")
    for side in result.sides:
        efficiency = result.efficiency(side)
        click.echo(f"{side.name:<38} {side.wall:8.1f} {'-' if efficiency is None else f'{efficiency:.2f}':>10} "
                   f"{side.startup:10.1f} {result.overhead(side):16.2f} {side.peak_mb:9.0f}")
    ours, bare = result.side(OURS), result.side(BASELINE)
    if bare is not None:
        click.echo(f"{'orchestrate / bare Tune efficiency':<38} {result.efficiency(ours) / result.efficiency(bare):8.2f}x")


@bench.command("store")
@click.option("--runs", default=10_000, show_default=True, type=COUNT, help="Trial runs in the store.")
@friendly_errors
def bench_store(runs: int) -> None:
    """Reads of a SQLite store of RUNS trial runs: SQL vs MlflowClient, sweep start, leaderboard, report."""
    import tempfile
    from pathlib import Path

    from ..bench.store import bench_store as run

    with tempfile.TemporaryDirectory() as scratch:
        result = run(Path(scratch), runs)
    click.echo(f"a SQLite store of {runs} finished trial runs (built in {result.build:.1f} s)")
    click.echo(f"read_trials by SQL            : {result.sql:8.2f} s")
    click.echo(f"read_trials via MlflowClient  : {result.client:8.2f} s (same frame: {'yes' if result.same else 'NO'})")
    click.echo(f"ratio                         : {result.client / result.sql:8.1f}x")
    click.echo(f"sweep start (finished keys)   : {result.start:8.2f} s")
    click.echo(f"orchestrate leaderboard       : {result.leaderboard:8.2f} s (whole command)")
    click.echo(f"orchestrate report            : {result.report:8.2f} s (whole command)")


@bench.command("memory")
@click.option("--epochs", default=2, show_default=True, type=COUNT, help="Epochs per trial.")
@click.option("--spec", "spec_path", default=None, help="A grid study (default: the quickstart, resnet20 on digits).")
@friendly_errors
def bench_memory(epochs: int, spec_path: Optional[str]) -> None:
    """Peak RSS of a trial worker (default: ResNet-20 on digits, one seed per configuration)."""
    from ..bench.memory import bench_memory as run, quickstart
    from ..study import load_spec

    spec_path = spec_path or quickstart()
    overrides = ["search.repeats=1", f"train.epochs={epochs}"]
    load_spec(spec_path, overrides)  # a missing or bad spec: one line, exit 2, before its sweep runs
    result = run(spec_path, overrides)
    click.echo(f"{spec_path}, one seed per configuration x {epochs} epochs, peak RSS")
    click.echo(f"trial worker (Ray, orchestrate)   : {result.worker_mb:8.0f} MB")
    click.echo(f"same Trainer in a plain process   : {result.plain_mb:8.0f} MB")
    click.echo(f"ratio                             : {result.worker_mb / result.plain_mb:8.2f}x")
    click.echo(f"sweep driver                      : {result.driver_mb:8.0f} MB")


@bench.command("gpu-sweep")
@click.option("--trials", default=16, show_default=True, type=click.IntRange(min=4),
              help="Trials: 4 learning rates x seeds (a multiple of 4).")
@click.option("--epochs", default=2, show_default=True, type=click.IntRange(min=1), help="Epochs per trial.")
@click.option("--k", "members", default=8, show_default=True, type=click.IntRange(min=2),
              help="Trials per device when packed or fused.")
@click.option("--train-size", default=50_000, show_default=True, type=click.IntRange(min=1),
              help="Synthetic 32x32 training images per trial.")
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=1))
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default=None,
              help="Where the trials train (default: cuda when there is one).")
@click.option("--also", multiple=True, type=click.Choice(OPTIONAL),
              help="On CUDA, also: time-slice (K packed without MPS), auto (gpus_per_trial: auto, measured "
                   "by the sweep). Repeatable.")
@click.option("--folder", type=click.Path(file_okay=False), default=None,
              help="Keep each arrangement's spec, MLflow store, Ray results and sweep log here "
                   "(default: a temporary folder, removed).")
@click.option("--json", "as_json", is_flag=True, help="Also print the rows as one JSON list at the end.")
@friendly_errors
def bench_gpu_sweep(trials: int, epochs: int, members: int, train_size: int, batch_size: int,
                    device: Optional[str], also: tuple[str, ...], folder: Optional[str], as_json: bool) -> None:
    """Trials per hour of one ResNet-20 study through `orchestrate sweep` on one device: one trial
    per device, K packed under MPS, K fused (and what --also asks); each a whole command, in one run."""
    import json
    import tempfile
    from pathlib import Path

    import torch

    import signal

    from ..bench.gpu_cli import exit_on_sigterm
    from ..bench.gpu_sweep import HEADER, LEARNING_RATES, bench_gpu_sweep as run, check_trials, format_row, to_dict

    try:
        check_trials(trials)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    if folder is not None and Path(folder).exists() and any(Path(folder).iterdir()):
        raise SpecError(f"--folder {folder} is not empty: give a new or empty folder for the arrangements' stores")
    if device == "cuda" and not torch.cuda.is_available():
        raise SpecError("--device cuda: no CUDA device here; allowed: cpu")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    named = torch.cuda.get_device_name(0) if device == "cuda" else f"{len(os.sched_getaffinity(0))} cores"
    rates = len(LEARNING_RATES)
    click.echo(f"bench gpu-sweep on {device} ({named}): {trials} trials ({rates} learning rates x "
               f"{trials // rates} seeds), "
               f"resnet20, batch {batch_size}, {epochs} epochs of {train_size:,} synthetic 32x32 images, "
               f"the device's default precision; each arrangement one `orchestrate sweep`")
    if also and device != "cuda":
        click.echo(f"--also {', '.join(also)}: CUDA only (nothing to time-slice or measure on {device}); left out",
                   err=True)
    click.echo(HEADER)
    signal.signal(signal.SIGTERM, exit_on_sigterm)  # a time limit stops the running sweep too (bench/process.py)
    rows: list = []

    def show(row) -> None:
        rows.append(row)
        click.echo(format_row(row, rows[0]))

    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as scratch:
        run(trials, epochs, device=device, members=members, batch_size=batch_size, train_size=train_size,
            folder=Path(folder or scratch), also=also, on_row=show,
            on_start=lambda arrangement: click.echo(f"{arrangement.name}: running `orchestrate sweep` ...", err=True))
    if as_json:
        click.echo(json.dumps(to_dict(rows)))
