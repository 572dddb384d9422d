"""How a spec asks to pack trials onto GPUs: ``gpus_per_trial`` and ``fused_trials`` as a number
or ``auto`` (measured before the trials start), and the checks a fused stage must pass.

Apart from ``spec`` so the resources schema stays a list of fields; the sweep's pre-checks call
:func:`fused_stage_problem` on each stage's expanded trial configs.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

AUTO = "auto"
# What ``gpus_per_trial: auto`` asks Ray for until a measurement chooses K: a whole GPU per
# trial, the one setting never slower than packing (issue 23).
UNMEASURED_SHARE = 1.0


def number_or_auto(kind: type, minimum: float) -> Callable[[Any], Any]:
    """A pydantic plain validator: ``auto``, or a ``kind`` number at least ``minimum``."""
    def check(value: Any) -> Any:
        if value == AUTO:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise ValueError(f"expected {'an integer' if kind is int else 'a number'} >= {minimum:g} or auto, "
                             f"got {value!r}")
        if value < minimum:
            raise ValueError(f"Input should be greater than or equal to {minimum:g} (or auto), got {value!r}")
        return kind(value)

    return check


def share_of(gpus_per_trial: float | str) -> float:
    """The GPU share a trial asks Ray for: the number, or for ``auto`` :data:`UNMEASURED_SHARE`."""
    return UNMEASURED_SHARE if gpus_per_trial == AUTO else float(gpus_per_trial)


def fused_scheduler_problem(fused_trials: int | str, scheduler: Optional[str]) -> Optional[str]:
    """Why an explicit ``fused_trials`` K > 1 cannot run with this trial scheduler, or None.
    A scheduler stops, pauses or clones single trials; members of one fused process cannot."""
    if scheduler is None or fused_trials == AUTO or fused_trials == 1:
        return None
    return (f"{fused_trials} trains trials in one process, but trial scheduler {scheduler} stops and resumes "
            "trials one at a time; use fused_trials: 1 (or auto, which runs such a stage unfused)")


def fused_stage_problem(fused_trials: int | str, configs: Sequence[dict[str, Any]]) -> Optional[str]:
    """For the sweep's pre-checks: why a stage's trial configs cannot train ``fused_trials`` at a
    time (an explicit K > 1 whose trials differ in shape), or None (``auto`` runs them unfused)."""
    if fused_trials == AUTO or fused_trials == 1 or len(configs) < 2:
        return None
    from .train.fusable import fusable

    ok, reason = fusable(configs)
    return None if ok else f"resources.fused_trials: {fused_trials} cannot fuse this stage: {reason}"


def fused_stage_note(fused_trials: int | str, scheduler: Optional[str], configs: Sequence[dict[str, Any]]) -> str:
    """The dry run's one line on how a stage fuses ("" when ``fused_trials`` is 1); an explicit
    K that cannot fuse is :func:`fused_stage_problem`'s error, not a note."""
    if fused_trials == 1:
        return ""
    if fused_trials == AUTO:
        if scheduler is not None:
            return f"fused_trials auto: this stage runs unfused (trial scheduler {scheduler} handles trials one at a time)"
        from .train.fusable import fusable

        ok, reason = fusable(configs) if len(configs) > 1 else (False, "a single trial")
        return ("fused_trials auto: K measured before the trials start" if ok
                else f"fused_trials auto: this stage runs unfused ({reason})")
    return f"fused_trials {fused_trials}: {len(configs)} trials train up to {fused_trials} at a time in one process"
