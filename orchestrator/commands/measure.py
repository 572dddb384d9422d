"""``orchestrate sweep SPEC --dry-run --measure``: what ``gpus_per_trial: auto`` would choose here,
and the wall time of the whole study it projects on this machine's GPUs."""

from __future__ import annotations

from typing import Any, Optional

from ..dry_run import TRAIN_IMAGES
from ..errors import SpecError
from ..spec.plans import TrialPlan
from ..spec.study import StudySpec


def check_cuda() -> None:
    """Refuse ``--measure`` before the dry run prints anything, where there is no GPU to time."""
    import torch

    if not torch.cuda.is_available():
        raise SpecError("--measure needs a CUDA device: it times the study's workloads on a GPU (none here)")


def measure_lines(spec: StudySpec, plans: Optional[list[TrialPlan]]) -> list[str]:
    """How the study's trials would share a GPU, the measurement table, the chosen K, and the
    projected wall time on N GPUs."""
    import torch

    from ..bench.auto import auto_share
    from ..run.auto_share import UNPACKED_LINE
    from ..run.gpu_sharing import gpu_sharing, sweep_folder

    configs = [plan.config for plan in plans] if plans is not None else [spec.trial_config()]
    lines: list[str] = []
    # Measured as the sweep measures: under the MPS daemon the study's gpu_sharing would run (K
    # time-sliced processes run slower than one, so a measurement without it would choose K = 1).
    with sweep_folder(lines.append) as workdir, gpu_sharing(
            spec.resources.gpu_sharing, gpus_per_trial="auto", cuda=True, workdir=workdir) as sharing:
        lines.append(sharing.message)
        if not sharing.packed:
            return [*lines, UNPACKED_LINE]
        chosen = auto_share(configs, device=torch.device("cuda", 0))
    gpus = torch.cuda.device_count()
    return [*lines, *chosen.table(), projected(spec, configs, chosen.rows, chosen.k, gpus)]


def projected(spec: StudySpec, configs: list[dict[str, Any]], rows: list[dict[str, Any]], k: int, gpus: int) -> str:
    """Every trial's images over its workload's aggregate rate at the study's K, spread over
    ``gpus``: packing keeps each GPU at that aggregate while trials remain."""
    images = spec.data.options.get("train_size") or TRAIN_IMAGES.get(spec.data.dataset)
    if images is None:
        return f"projected wall time: unknown (the size of dataset {spec.data.dataset} is unknown)"
    rate = {row["workload"]: next((r["images_per_second"] for r in row["runs"] if r["k"] == k), 0.0) for row in rows}
    slowest = min(rate.values(), default=0.0)
    if not slowest:
        return "projected wall time: unknown (the chosen K did not run cleanly)"
    seconds = len(configs) * spec.train.epochs * images / slowest / max(gpus, 1)
    return (f"projected wall time: {seconds / 3600:.2f} h for {len(configs)} trials x {spec.train.epochs} epochs "
            f"on {gpus} GPUs at {k} trials per GPU (the slowest workload's aggregate, {slowest:,.0f} images/s)")
