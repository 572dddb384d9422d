"""What a dry run says besides the trial list: the recipe, resources, objectives, warnings
about settings that contradict each other, and a rough cost of the whole study.

The cost is an order-of-magnitude estimate (MACs x images / an assumed device throughput), so a
user sees before starting whether a study is minutes or days; it is not a measurement.
"""

from __future__ import annotations

from typing import Optional

from .designs import get_design
from .labels import duration
from .spec.plans import TrialPlan
from .study import SweepSpec
from .train.device_plan import device_line, trial_device

TRAIN_IMAGES = {"cifar10": 50_000, "cifar100": 50_000, "tiny_imagenet": 100_000, "digits": 1_437}
# Sustained multiply-accumulates per second of a small CNN's training step (forward + backward =
# 3 forward passes): per CPU core, and per whole GPU of the data-centre class.
CPU_CORE_MACS, GPU_MACS = 2e10, 5e12


def spec_warnings(spec: SweepSpec) -> list[str]:
    """Settings that validate one by one but contradict each other."""
    found = []
    epochs, search = spec.train.epochs, spec.search
    scheduler = search.scheduler
    if scheduler is not None and getattr(scheduler, "grace_period", 0) >= epochs:
        found.append(f"search.scheduler.grace_period ({scheduler.grace_period}) >= train.epochs ({epochs}): "
                     f"{scheduler.name} never stops a trial")
    if spec.train.scheduler.warmup_epochs >= epochs:
        found.append(f"train.scheduler.warmup_epochs ({spec.train.scheduler.warmup_epochs}) >= train.epochs "
                     f"({epochs}): training never leaves the warm-up")
    share = spec.resources.gpus_per_trial
    if spec.train.device == "cpu" and share != "auto" and share > 0:
        found.append(f"train.device is cpu but resources.gpus_per_trial asks {share:g} GPU per trial: each trial "
                     f"holds a GPU share it does not use (resources.gpus_per_trial=0 frees it)")
    confirm = getattr(search, "confirm", None)
    if confirm is not None and confirm.top_k > search.num_samples:
        found.append(f"search.confirm.top_k ({confirm.top_k}) > search.num_samples "
                     f"({search.num_samples}): at most {search.num_samples} configurations can be confirmed")
    return found


def trial_epochs(spec: SweepSpec, plans: Optional[list[TrialPlan]]) -> int:
    """Epochs the study trains at most (schedulers that prune make it fewer)."""
    return get_design(spec.search.kind).trial_count(spec, plans) * spec.train.epochs


def epoch_seconds(spec: SweepSpec) -> Optional[float]:
    """Rough seconds of one training epoch of the base configuration on its trial's resources."""
    import models as zoo

    from .profile import profile_model

    data = spec.data
    images = data.options.get("train_size") or TRAIN_IMAGES.get(data.dataset)
    if images is None:
        return None
    size = int(data.options.get("image_size") or zoo.default_input_size(spec.model.name))
    _, macs = profile_model(zoo.create_model(spec.model.name, num_classes=10), size)
    resources = spec.resources
    on_gpu = trial_device(spec.train, resources.gpu_share).type == "cuda"
    # A trial told to train on CUDA with no share asked of Ray still has the GPU: a whole one at most.
    rate = GPU_MACS * (resources.gpu_share or 1.0) if on_gpu else CPU_CORE_MACS * resources.cpus_per_trial
    return 3 * macs * images / rate


def summary(spec: SweepSpec, plans: Optional[list[TrialPlan]]) -> list[str]:
    """The dry run's header lines."""
    resources, search = spec.resources, spec.search
    objectives = ", ".join(f"{m} ({mode})" for m, mode in zip(search.metrics, search.modes))
    total = trial_epochs(spec, plans)
    gpus = (f"{resources.gpus_per_trial:g} GPUs" if resources.gpus_per_trial != "auto" else
            "GPUs by measurement (auto: 1/K for the K trials per GPU measured fastest, none without CUDA; "
            "--measure shows K)")
    seconds = epoch_seconds(spec)
    cost = "unknown (dataset size unknown)" if seconds is None else (
        f"~{duration(total * seconds)} of trial time in all (~{seconds:.3g} s per trial-epoch, a rough "
        f"estimate for this device); wall time is that divided by the trials running at once")
    return [
        f"dataset {spec.data.dataset}, model {spec.model.name}, {spec.train.epochs} epochs; "
        f"{device_line(spec.train, resources.gpu_share)}",
        f"per trial: {resources.cpus_per_trial:g} CPUs, {gpus}; objectives: {objectives}",
        f"cost: {total} trial-epochs at most; {cost}",
    ]

