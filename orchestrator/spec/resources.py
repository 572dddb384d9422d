"""The ``resources`` and ``tracking`` sections: what each trial gets, and where runs are stored."""

from __future__ import annotations

import math
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator

from ..schema import StrictModel
from ..tracking.store import unsupported_scheme


class ResourcesSpec(StrictModel):
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: Union[float, Literal["auto"]] = Field(
        0.0, description="a GPU share per trial (below 1, trials share a GPU), or auto: 1/K for the K trials per "
                         "GPU measured fastest (no GPU without CUDA)")
    gpu_sharing: Literal["mps", "time_slice"] = Field(
        "mps", description="mps: trials sharing a GPU run under an MPS daemon (one trial per GPU where MPS cannot "
                           "start); time_slice: packed without MPS, slower than one per GPU")
    fused_trials: Union[int, Literal["auto"]] = Field(
        1, description="plans of one fixed stage trained K at a time in one process as one fused model (same "
                       "tensor shapes; each still its own MLflow run); auto: 1 without CUDA, else the K measured "
                       "fastest, and unfused where a trial scheduler or differing shapes forbid it")
    max_concurrent: Optional[int] = Field(None, ge=1)
    max_failures: int = Field(2, ge=0, description="retries of a trial whose process died, from its checkpoint")
    checkpoint_every: int = Field(1, ge=1, description="epochs between trial checkpoints")
    reuse_workers: bool = Field(True, description="run each trial in the worker process of a finished one "
                                                  "(false: a fresh process per trial)")
    storage: Optional[str] = Field(None, description="Ray Tune storage; default ./ray_results")

    @field_validator("fused_trials", mode="before")
    @classmethod
    def _k_or_auto(cls, value: Any) -> Any:
        # One plain message for every mistake, instead of pydantic's two union branches (whose
        # int branch names no 'auto' and takes true for 1).
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() or int(value) < 1:
            raise ValueError("allowed: an integer >= 1 (trials fused in one process) or auto")
        return int(value)

    @field_validator("gpus_per_trial", mode="before")
    @classmethod
    def _share_or_auto(cls, value: Any) -> Any:
        # One plain message for both kinds of mistake, instead of pydantic's two union branches.
        if value == "auto":
            return value
        try:
            share = float(value)
        except (TypeError, ValueError):
            share = -1.0
        if isinstance(value, bool) or not 0 <= share < math.inf:  # nan and inf too: no share Ray can place
            raise ValueError("allowed: a GPU share >= 0 (e.g. 0.25, 1, 2) or auto")
        return share

    @property
    def gpu_share(self) -> float:
        """The share to plan with before ``auto`` is measured: at most a whole GPU per trial."""
        return 1.0 if self.gpus_per_trial == "auto" else self.gpus_per_trial


class TrackingSpec(StrictModel):
    uri: Optional[str] = Field(None, description="default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db")

    @field_validator("uri")
    @classmethod
    def _store_mlflow_opens(cls, value: Optional[str]) -> Optional[str]:
        why = unsupported_scheme(value) if value is not None else ""
        if why:
            raise ValueError(why)
        return value
