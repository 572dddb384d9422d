"""What a sweep checks before Ray starts or the store is written: the plans, the cluster's
capacity, the store, the data, and what the study's store already holds."""

from __future__ import annotations

import json
from typing import Any, Optional

from ..data import load_dataset
from ..designs import get_design
from ..errors import ResumeError, SpecError
from ..spec.fused import fused_size
from ..spec.plans import TrialPlan
from ..spec.study import StudySpec
from ..tracking import reader
from ..tracking.store import absent_sqlite_file, check_reachable, redact, redact_spec, resolve_uri, spec_differences
from ..tracking.writer import StudyTracker
from ..train.config import forward_error
from . import capacity
from .cluster import cluster_address
from .study_guard import check_base


def preflight_data(spec: StudySpec, plans: Optional[list[TrialPlan]]) -> None:
    """Load every dataset the sweep trains on once in the driver, before anything is recorded.

    A missing archive fails here with its message instead of in every trial, and the decoded
    cache is written once instead of by concurrent trials. Where only the files said the images'
    size (an image folder without ``image_size``), each row's model is run on it now, as the
    spec's check runs it where the spec says the size.
    """
    rows = [(f"row {p.label}", p.config) for p in plans] if plans else [("the base config", spec.trial_config())]
    sizes: dict[str, tuple[int, int, int]] = {}
    for row, config in rows:
        data = config["data"]
        key = json.dumps([data["dataset"], data["root"], data["options"]], sort_keys=True, default=str)
        if key not in sizes:
            sizes[key] = load_dataset(data["dataset"], root=data["root"], download=data["download"],
                                      **data["options"]).input_size
        check_decoded_input(row, config, sizes[key])


def check_decoded_input(row: str, config: dict[str, Any], stored: tuple[int, int, int]) -> None:
    """Refuse a row whose model cannot run on the images as decoded (fed to it unresized)."""
    model = {k: v for k, v in config["model"].items() if k != "name"}
    if config["data"]["image_size"] is not None or model.get("pretrained"):
        return  # resized: checked when the spec was read
    channels, side = stored[0], stored[-1]
    why = forward_error(config["model"]["name"], model, channels, side)
    if why:
        raise SpecError(f"{row}: model.name: {config['model']['name']} cannot run on {side} px inputs "
                        f"({config['data']['dataset']}'s images as decoded; set data.image_size): {why}")


def new_store(spec: StudySpec) -> bool:
    """Whether the study's store is a SQLite file that does not exist yet."""
    return absent_sqlite_file(resolve_uri(spec.tracking.uri)) is not None


def prepare(spec: StudySpec, *, resume: bool, address: Optional[str] = None, add_to_study: bool = False,
            plans: Optional[list[TrialPlan]] = None,
            ) -> tuple[Optional[list[TrialPlan]], dict[str, Any], dict[str, Any]]:
    """Everything checked before Ray starts or the store is written: plans, data, resume state,
    and the base-configuration keys in which this sweep differs from the study's recorded one.
    ``plans``: the design's expansion when the caller already has it (expanding a large study
    resolves and validates every plan); None expands here (an Optuna study's is cheap)."""
    plans = plans if plans is not None else get_design(spec.search.kind).expand(spec)
    fused_size(spec, plans)  # refuses an explicit fused_trials that cannot hold
    address = cluster_address(address)
    capacity.check_target(address, spec.resources)
    check_reachable(resolve_uri(spec.tracking.uri))  # before a client creates anything there
    if new_store(spec):  # nothing to resume or compare with; created while Ray starts (run_sweep)
        if resume:
            raise ResumeError(f"study {spec.name!r} has no sweep to resume in {redact(resolve_uri(spec.tracking.uri))}")
        resumable, changes = {}, {}
    else:
        resumable, changes = recorded_state(spec, resume=resume, add_to_study=add_to_study)
    preflight_data(spec, plans)
    return plans, resumable, changes


def recorded_state(spec: StudySpec, *, resume: bool, add_to_study: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the study's store holds for this sweep: its interrupted runs, and the base keys in
    which this sweep differs from the study's recorded recipe; refuses what cannot go on."""
    tracker = StudyTracker(spec.name, spec.tracking.uri)
    resumable = reader.unfinished_trials(tracker.client, spec.name)
    recorded = reader.recorded_spec(tracker.client, spec.name)
    if resume:
        if recorded is None:
            raise ResumeError(f"study {spec.name!r} has no sweep to resume in {redact(tracker.uri)}")
        differences = spec_differences(recorded, redact_spec(spec.model_dump(mode="json")))
        if differences:
            raise ResumeError(f"the spec differs from the one that started {spec.name!r}: "
                              f"{'; '.join(differences[:5])}; resume with that spec or use a new name")
        return resumable, {}
    if resumable:
        raise ResumeError(f"study {spec.name!r} has {len(resumable)} interrupted runs; continue them "
                          f"with `orchestrate sweep ... --resume` (or give the study a new name)")
    return resumable, check_base(spec.name, recorded, spec.model_dump(mode="json"), add_to_study=add_to_study)
