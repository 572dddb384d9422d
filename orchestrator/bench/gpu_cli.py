"""The ``orchestrate bench gpu`` command, kept apart from ``orchestrator/cli.py`` so the bench group
takes it with one line. Importing it costs only click: torch and the trainer load when it runs,
and nothing of Ray, MLflow or Optuna ever does. ``python -m orchestrator.bench.gpu_cli`` runs it
without the rest of the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn, Optional

import click


@click.command("gpu")
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default=None,
              help="Where to train (default: cuda when there is one).")
@click.option("--quick", is_flag=True, help="Tiny sizes and no compile: checks the bench itself, on a CPU too.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as one JSON object.")
@click.option("--save", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Rewrite the measurements as JSON in this file after each section: a run cut short "
                   "(a time limit) keeps the sections it measured.")
def gpu_command(device: Optional[str], quick: bool, as_json: bool, save: Optional[str]) -> None:
    """Trainer vs a bare loop per precision, K trials packed per GPU, the data path on the device,
    and seed 003's table projected to 8 GPUs: in one run, on one device."""
    import torch

    from .gpu import GpuBench, run_gpu_bench
    from .gpu_report import format_bench

    # Refused before anything runs: the first write comes after minutes of measuring.
    # (One line and exit 2 as ``commands.friendly_errors`` gives, without importing the command
    # layer: this module also runs alone on a bare GPU machine.)
    if device == "cuda" and not torch.cuda.is_available():
        _refuse("--device cuda: no CUDA device here; allowed: cpu")
    folder = Path(save).resolve().parent if save else None
    if folder is not None and not folder.is_dir():
        _refuse(f"--save {save}: no folder {folder}; allowed: a file in an existing folder")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    signal.signal(signal.SIGTERM, exit_on_sigterm)

    def measured(section: str, bench: GpuBench) -> None:
        click.echo(f"[{bench.seconds:5.0f} s] {section}: measured", err=True)
        if save:
            write_json(bench.to_dict(), Path(save))

    bench = run_gpu_bench(device=device, quick=quick, on_section=measured)
    if as_json:
        click.echo(json.dumps(bench.to_dict(), indent=1))
        return
    for line in format_bench(bench):
        click.echo(line)


def write_json(data: dict, path: Path) -> None:
    """``data`` into ``path`` whole or not at all: a kill while writing leaves the last whole copy."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1))
    os.replace(partial, path)


def exit_on_sigterm(signum: int, frame: object) -> NoReturn:
    """A time limit's SIGTERM (``timeout``) as an exit that unwinds: the packing workers are ended
    and an MPS daemon the bench started is stopped, instead of dying at once and leaving both to
    hold the GPU for whatever runs next."""
    raise SystemExit(128 + signum)


def _refuse(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    gpu_command()
