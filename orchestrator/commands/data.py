"""``orchestrate data ...``: dataset caches."""

from __future__ import annotations

from typing import Any, Optional

import click

from ..errors import SpecError
from . import friendly_errors

@click.group()
def data() -> None:
    """Dataset caches."""


ROOT_HELP = "Cache directory (default: $ORCHESTRATE_DATA or ~/.cache/orchestrate/data)."


def _summary(name: str, tensors: Any) -> str:
    return (f"{name}: {len(tensors.train_labels)} train, {len(tensors.val_labels)} val images "
            f"of {tensors.input_size}, {tensors.num_classes} classes")


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs, each value read as a YAML scalar (``image_size=64`` is an int)."""
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SpecError(f"option {pair!r}: expected key=value, e.g. path=/data/flowers")
        options[key] = yaml.safe_load(value)
    return options


def check_dataset(name: str, options: dict[str, Any]) -> None:
    """An unknown dataset, or an option its builder does not take, is bad input (exit 2), refused
    before anything is fetched or written; a missing archive stays a runtime error (exit 1)."""
    from ..data import dataset_options
    from ..errors import OptionError
    from ..options import check_options

    try:
        check_options("dataset", name, dataset_options, options, name_key="", required=True)
    except OptionError as exc:  # named as typed on the command line: -o KEY
        raise SpecError(f"-o {exc.subpath}: {exc}" if exc.subpath else str(exc)) from None


@data.command("prepare")
@click.argument("name")
@click.option("--root", default=None, help=ROOT_HELP)
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Dataset option, e.g. -o path=/data/flowers for imagefolder.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check the archive against the official MD5.")
@friendly_errors
def data_prepare(name: str, root: Optional[str], options: tuple[str, ...], verify: bool) -> None:
    """Download (or find) dataset NAME, verify its archive and write its decoded cache."""
    from pathlib import Path

    from ..data.prepare import prepare_dataset

    parsed = _parse_options(options)
    check_dataset(name, parsed)
    tensors = prepare_dataset(name, Path(root) if root else None, check=verify, **parsed)
    click.echo(_summary(name, tensors))


@data.command("import")
@click.argument("name")
@click.argument("archive", type=click.Path(exists=True))
@click.option("--root", default=None, help=ROOT_HELP)
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check the archive against the official MD5.")
@friendly_errors
def data_import(name: str, archive: str, root: Optional[str], verify: bool) -> None:
    """Decode ARCHIVE, a copy of dataset NAME's official archive you already have, into the cache."""
    from pathlib import Path

    from ..data.prepare import import_dataset

    check_dataset(name, {})
    tensors = import_dataset(name, Path(archive), Path(root) if root else None, check=verify)
    click.echo(_summary(name, tensors))
