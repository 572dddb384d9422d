"""``orchestrate models [PATTERN]``: the registry's names with their size and cost."""

from __future__ import annotations

import fnmatch
from typing import Optional

import click

from . import friendly_errors
from ..limits import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE

GLOB_CHARS = "*?["


def matching(names: list[str], pattern: str) -> list[str]:
    """Names containing ``pattern``, case-insensitively (``eca`` finds ``resnet20_eca``); a
    pattern with glob characters matches whole names, as a shell would."""
    pattern = pattern.lower()
    if any(char in pattern for char in GLOB_CHARS):
        return [name for name in names if fnmatch.fnmatchcase(name.lower(), pattern)]
    return [name for name in names if pattern in name.lower()]


@click.command()
@click.argument("pattern", default="")
@click.option("--num-classes", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--input-size", type=click.IntRange(MIN_IMAGE_SIDE, MAX_IMAGE_SIDE), default=None,
              help="Square input side for MACs (default: each model's own, e.g. 64 for Tiny-ImageNet models).")
@friendly_errors
def models(pattern: str, num_classes: int, input_size: Optional[int]) -> None:
    """List registered models whose name contains PATTERN (or matches a glob), with params and
    MACs (timm/<name> builds any timm model too)."""
    import models as zoo

    from ..profile import profile_model
    from ..train.config import FORWARD_ERRORS

    names = matching(zoo.list_models(), pattern)
    if not names:
        click.echo(f"no registered model name contains {pattern!r} "
                   f"(matching is by substring, case-insensitive; globs like 'resnet*' match whole names)")
        return
    click.echo(f"{'model':<24} {'params (M)':>10} {'MMACs':>10} {'input':>6}   at {num_classes} classes")
    for name in names:
        size = input_size or zoo.default_input_size(name)
        model = zoo.create_model(name, num_classes=num_classes)
        try:
            params, macs = profile_model(model, size)
        except FORWARD_ERRORS as exc:  # one network that cannot take the size; the others still listed
            params = sum(p.numel() for p in model.parameters())
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            click.echo(f"{name:<24} {params / 1e6:>10.3f} {'-':>10} {size:>6}   cannot run at {size} px: {why}")
            continue
        click.echo(f"{name:<24} {params / 1e6:>10.3f} {macs / 1e6:>10.1f} {size:>6}")
