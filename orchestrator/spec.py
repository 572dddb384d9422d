"""The study spec: YAML -> validated :class:`SweepSpec`, with dotted command-line overrides.

Every model forbids unknown keys. Any problem becomes one :class:`SpecError` line naming the key
path and what is allowed, raised before anything is started or written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import Field, PlainValidator, ValidationError, model_validator

from .errors import OptionError, SpecError
from .config import TRIAL_SECTIONS, TrialConfig
from .packing_spec import fused_scheduler_problem, number_or_auto, share_of
from .schedulers import get_scheduler
from .search_spec import SearchSpec
from .spec_base import StrictModel, format_validation_error

SEARCH_SPACES_DIR = Path(__file__).resolve().parent.parent / "search_spaces"
# Keys whose children are dotted paths into the trial config, so overrides must not split them.
PATH_KEYED = {("search", "factors"), ("search", "baseline"), ("search", "space"),
              ("search", "scheduler", "mutations")}


class ResourcesSpec(StrictModel):
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: Annotated[Union[float, str], PlainValidator(number_or_auto(float, 0))] = Field(
        0.0, description="a share of a GPU per trial, or auto: 1/K with K measured (a whole GPU until then)")
    gpu_sharing: Literal["mps", "time_slice"] = Field(
        "mps", description="trials sharing a GPU run under an MPS daemon (else one per GPU), or time-sliced")
    fused_trials: Annotated[Union[int, str], PlainValidator(number_or_auto(int, 1))] = Field(
        1, description="trials trained together in one process as one fused model, or auto")
    max_concurrent: Optional[int] = Field(None, ge=1)
    max_failures: int = Field(2, ge=0, description="retries of a trial whose process died, from its checkpoint")
    checkpoint_every: int = Field(1, ge=1, description="epochs between trial checkpoints")
    reuse_workers: bool = Field(True, description="run each trial in the worker process of a finished one "
                                                  "(false: a fresh process per trial)")
    storage: Optional[str] = Field(None, description="Ray Tune storage; default ./ray_results")

    @property
    def gpu_share(self) -> float:
        """What one trial asks Ray for (``auto``: a whole GPU until a measurement chooses)."""
        return share_of(self.gpus_per_trial)


class TrackingSpec(StrictModel):
    uri: Optional[str] = Field(None, description="default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db")


class SweepSpec(TrialConfig):
    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    search: SearchSpec = Field(default_factory=SearchSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)

    def trial_config(self) -> dict[str, Any]:
        """The base trial config as plain data (what factors patch)."""
        return self.model_dump(include=set(TRIAL_SECTIONS), mode="json")

    @model_validator(mode="after")
    def _scheduler_fits_study(self) -> SweepSpec:
        if self.search.scheduler is not None:
            get_scheduler(self.search.scheduler.name).validate_study(self)
            problem = fused_scheduler_problem(self.resources.fused_trials, self.search.scheduler.name)
            if problem:
                raise OptionError("resources.fused_trials", problem)
        return self


def resolve_spec_path(path: str | Path) -> Path:
    """``path`` as given, or else under ``search_spaces/`` when relative."""
    candidate = Path(path)
    if candidate.exists():
        return candidate
    if not candidate.is_absolute() and (SEARCH_SPACES_DIR / candidate).exists():
        return SEARCH_SPACES_DIR / candidate
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
        raw = yaml.load(path.read_text(), Loader=SpecLoader)
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


def parse_spec(raw: dict[str, Any], *, default_name: str | None = None) -> SweepSpec:
    raw = dict(raw)
    if default_name and "name" not in raw:
        raw["name"] = default_name
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, SweepSpec)) from None


def load_spec(path: str | Path, overrides: list[str] = ()) -> SweepSpec:
    """Load, override and validate a spec file; raises :class:`SpecError` with one line."""
    resolved = resolve_spec_path(path)
    raw = load_yaml(resolved)
    for assignment in overrides:
        apply_override(raw, assignment)
    return parse_spec(raw, default_name=resolved.stem)
