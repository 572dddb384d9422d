"""The ``resources`` and ``tracking`` sections: what each trial gets, and where runs are stored."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ..schema import StrictModel


class ResourcesSpec(StrictModel):
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: float = Field(0.0, ge=0, description="a GPU share per trial; below 1, trials share a GPU")
    gpu_sharing: Literal["mps", "time_slice"] = Field(
        "mps", description="mps: trials sharing a GPU run under an MPS daemon (one trial per GPU where MPS cannot "
                           "start); time_slice: packed without MPS, slower than one per GPU")
    max_concurrent: Optional[int] = Field(None, ge=1)
    max_failures: int = Field(2, ge=0, description="retries of a trial whose process died, from its checkpoint")
    checkpoint_every: int = Field(1, ge=1, description="epochs between trial checkpoints")
    reuse_workers: bool = Field(True, description="run each trial in the worker process of a finished one "
                                                  "(false: a fresh process per trial)")
    storage: Optional[str] = Field(None, description="Ray Tune storage; default ./ray_results")


class TrackingSpec(StrictModel):
    uri: Optional[str] = Field(None, description="default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db")
