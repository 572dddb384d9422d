"""``orchestrate weights ...``: pretrained weights stored ahead, for machines without network."""

from __future__ import annotations

from pathlib import Path

import click

from . import friendly_errors


@click.group()
def weights() -> None:
    """Pretrained weights in the local store ($ORCHESTRATE_WEIGHTS or ~/.cache/orchestrate/weights)."""


@weights.command("prefetch")
@click.argument("spec_path", metavar="SPEC")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@friendly_errors
def weights_prefetch(spec_path: str, overrides: tuple[str, ...]) -> None:
    """Download every pretrained weight the study in SPEC needs into the store, with its SHA-256."""
    import models

    from ..designs import get_design
    from ..study import load_spec
    from ..weights import prefetch

    spec = load_spec(spec_path, list(overrides))
    fetched = prefetch(spec, get_design(spec.search.kind).expand(spec), echo=click.echo)
    click.echo(f"{len(fetched)} weight file(s) downloaded into {models.weights_dir()}")


@weights.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@friendly_errors
def weights_import(name: str, file: str) -> None:
    """Copy FILE (a state dict, .pth or .safetensors) into the store as the timm weights NAME
    (e.g. resnet50.tv_in1k, as a refused sweep names them), once it loads into that model."""
    from ..weights import import_weights

    stored, path, digest = import_weights(name, Path(file))
    click.echo(f"{stored}: {path} sha256 {digest}")
