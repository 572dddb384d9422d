"""A spec file read into plain data: YAML 1.2 numbers, dotted command-line overrides, and the
lookup of a relative path under ``search_spaces/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError

SEARCH_SPACES_DIR = Path(__file__).resolve().parents[2] / "search_spaces"
# Keys whose children are dotted paths into the trial config, so overrides must not split them.
PATH_KEYED = {("search", "factors"), ("search", "baseline"), ("search", "space"),
              ("search", "scheduler", "mutations")}


def resolve_spec_path(path: str | Path) -> Path:
    """``path`` as given, or else under ``search_spaces/`` when relative."""
    candidate = Path(path)
    if not candidate.exists() and not candidate.is_absolute() and (SEARCH_SPACES_DIR / candidate).exists():
        candidate = SEARCH_SPACES_DIR / candidate
    if candidate.is_dir():
        inside = sorted(candidate.glob("*.yaml"))
        example = f", e.g. {Path(path) / inside[0].name}" if inside else ""
        raise SpecError(f"{path}: a folder; a spec is one YAML file{example}")
    if candidate.exists():
        return candidate
    raise SpecError(f"{path}: no such spec file (also looked in {SEARCH_SPACES_DIR})")


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats: YAML 1.1 reads ``1e-4`` (no dot) as text,
    which no researcher writing ``lr: {loguniform: [1e-4, 0.1]}`` means."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SpecLoader)
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file; a spec is YAML (UTF-8)") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SpecError(f"{where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a spec is a mapping of keys (name, data, model, ...)")
    return raw


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as a YAML scalar."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise SpecError(f"override {assignment!r}: expected key=value, e.g. train.epochs=5")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise SpecError(f"override {key}: cannot parse value {text!r} as YAML") from None
    if isinstance(value, str):
        value = _number_or_text(value)
    parts = key.split(".")
    node = raw
    walked: tuple[str, ...] = ()
    while len(parts) > 1:
        if walked in PATH_KEYED:
            parts = [".".join(parts)]  # the rest is one dotted search-space key
            break
        head = parts.pop(0)
        walked += (head,)
        child = node.setdefault(head, {})
        if not isinstance(child, dict):
            raise SpecError(f"override {key}: {'.'.join(walked)} is not a mapping")
        node = child
    node[parts[0]] = value


def _number_or_text(text: str) -> Any:
    """YAML 1.1 reads ``1e-3`` (no dot) as text; on a command line it means the number."""
    try:
        return float(text)
    except ValueError:
        return text


def read_spec(path: str | Path, overrides: list[str] = ()) -> tuple[dict[str, Any], str]:
    """A spec file's data with ``overrides`` applied, and its default study name (the stem)."""
    resolved = resolve_spec_path(path)
    raw = load_yaml(resolved)
    for assignment in overrides:
        apply_override(raw, assignment)
    return raw, resolved.stem
