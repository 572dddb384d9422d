"""``orchestrate bench gpu``: the trainer on one device, in five sections measured in one run
(in this order, except the projection, the longest, which runs last):

1. trainer vs a bare loop, per precision setting (ResNet-20, batch 512, crop + flip, SGD);
2. packing: K trainer processes sharing the device (``gpus_per_trial: 1/K``);
3. the in-memory data path on the device, against the trainer's fastest rate from section 1;
4. seed 003's 17-model table projected to the wall time of the whole study on 8 such devices;
5. sharing: K trials per device without MPS, under MPS and fused, and the K ``auto`` would choose.

Needs only torch, torchvision, timm, pydantic and pyyaml (no Ray, MLflow or Optuna), so it runs
from a checkout on a bare GPU machine. A section that fails on a setting records the error in
its row and the run goes on: on a GPU nobody has trained on, that is the finding.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import torch

from ..data import DatasetTensors, InMemoryLoader, build_augmentation
from ..train.setup import resolve_amp
from .bare import time_bare_loop
from .choice import PackingCache
from .packing import PackedRun, PackingPool, recommended_k, speedups
from .policies import PolicyRow, measure_policies
from .projection import BATCH, Projection, Row, RowProjection, packing_for
from .study import PACKING_MODELS, study_configs, study_rows
from .sharing import FULL_WORKLOADS, QUICK_WORKLOADS, SharingSection, measure_sharing
from .workload import SETTINGS, Setting, Workload, synchronize, time_trainer

LOADER_AUGMENTS = ("standard", "randaugment")  # crop + flip (+ normalize); and per-image policies
SMALL_BATCH_SETTINGS = ("amp+channels_last", "amp+channels_last+graphs")  # what graphs add at batch 128


@dataclass(frozen=True)
class Plan:
    """How much each section trains: the full run for a GPU, or ``QUICK`` to smoke-test on a CPU."""

    precision: Workload
    settings: tuple[Setting, ...]
    packing: tuple[Workload, ...]
    ks: tuple[int, ...]
    labels: Optional[tuple[str, ...]]  # the study's rows to project (None: all)
    projection: Workload  # steps and epochs of each row (model, size, batch, recipe: the row's)
    policy_batches: int = 10  # batches of each augmentation policy timed batched (per image: one)
    row_batch: Optional[int] = None  # None: each row's own batch; --quick: a small one
    small_batch: Optional[Workload] = None  # the seeds' batch of 128, where launches bind a step
    sharing: tuple[Workload, ...] = ()  # K trials per device: no MPS, under MPS, fused

    def row_workload(self, row: Row) -> Workload:
        resized = row.input_size != self.projection.stored_size
        steps = max(1, self.projection.steps // 3) if resized else self.projection.steps
        return self.projection.scaled(model=row.model, steps=steps, input_size=row.input_size if resized else None,
                                      batch_size=self.row_batch or row.batch_size, model_options=row.model_options,
                                      train=row.train)


FULL = Plan(
    precision=Workload("resnet20", batch_size=512, steps=40, timed_epochs=2),
    settings=SETTINGS,
    packing=tuple(Workload(name, batch_size=BATCH, steps=steps, timed_epochs=1)
                  for name, steps in zip(PACKING_MODELS, (16, 8, 4))),
    ks=(1, 2, 4, 8),
    labels=None,
    projection=Workload(steps=8, timed_epochs=2),
    small_batch=Workload("resnet20", batch_size=128, steps=80, timed_epochs=2),
    sharing=FULL_WORKLOADS,
)
# Tiny sizes; no compile (minutes of C++ on a CPU) nor CUDA graphs; 3 table rows at 32 px.
QUICK = Plan(
    precision=Workload("resnet20", batch_size=32, steps=2, timed_epochs=1),
    settings=tuple(s for s in SETTINGS if not s.compile and s.cuda_graphs == "off"),
    packing=(Workload("resnet20", batch_size=32, steps=2, timed_epochs=1),),
    ks=(1, 2),
    labels=("resnet_20", "eca_resnet_20", "ghost_resnet_20"),
    projection=Workload(steps=1, timed_epochs=1),
    policy_batches=2,
    row_batch=32,
    sharing=QUICK_WORKLOADS,
)


@dataclass(frozen=True)
class PrecisionRow:
    setting: str
    dtype: str  # what autocast resolved to on this device
    trainer: float = 0.0  # images/s
    bare: float = 0.0
    peak_mib: Optional[float] = None
    error: Optional[str] = None

    @property
    def ratio(self) -> float:
        return self.trainer / self.bare if self.bare else 0.0


@dataclass(frozen=True)
class LoaderRow:
    augment: str
    images_per_second: float
    headroom: float  # over the trainer's fastest rate in section 1; below 1 the loader is the bottleneck


@dataclass
class GpuBench:
    device: str
    device_name: str
    quick: bool
    precision: list[PrecisionRow] = field(default_factory=list)
    small_batch: list[PrecisionRow] = field(default_factory=list)  # batch 128, with and without graphs
    packing_setting: str = ""
    packing: dict[str, list[PackedRun]] = field(default_factory=dict)
    loader: list[LoaderRow] = field(default_factory=list)
    policies: list[PolicyRow] = field(default_factory=list)
    projection: Optional[Projection] = None
    sharing: Optional[SharingSection] = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``--json``: one key per section."""
        packing = {model: {"recommended_k": recommended_k(runs), "runs": [
            {**asdict(run), "speedup": speedups(runs)[run.k]} for run in runs]}
            for model, runs in self.packing.items()}
        projection = self.projection
        return {
            "device": self.device, "device_name": self.device_name, "torch": torch.__version__,
            "quick": self.quick, "seconds": round(self.seconds, 1),
            "trainer_vs_bare": [{**asdict(row), "ratio": row.ratio} for row in self.precision],
            "small_batch": [{**asdict(row), "ratio": row.ratio} for row in self.small_batch],
            "packing": {"setting": self.packing_setting, "models": packing},
            "data_path": [asdict(row) for row in self.loader],
            "augment_policies": [{**asdict(row), "ratio": row.ratio} for row in self.policies],
            "projection": None if projection is None else {
                "rows": [{**asdict(row), "epoch_seconds": row.epoch_seconds, "gpu_hours": row.gpu_hours}
                         for row in projection.rows],
                "failed": projection.failed, "complete": projection.complete,
                "gpu_hours": projection.gpu_hours, "wall_hours": projection.wall_hours,
                "meets_goal": projection.meets_goal},
            "sharing": None if self.sharing is None else asdict(self.sharing),
        }


def _error(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:300]


def _dtype(setting: Setting, device: torch.device) -> str:
    dtype = resolve_amp(setting.amp, device)
    return str(dtype).removeprefix("torch.") if dtype is not None else "float32"


def compare_precisions(workload: Workload, settings: tuple[Setting, ...], device: torch.device,
                       dataset: DatasetTensors) -> list[PrecisionRow]:
    """Section 1: the trainer and the bare loop on one workload, per precision setting."""
    rows = []
    for setting in settings:
        try:
            ours = time_trainer(workload, setting, device, dataset)
            bare = time_bare_loop(workload, setting, device, dataset)
        except Exception as error:  # noqa: BLE001  (a broken setting is a row of the table)
            rows.append(PrecisionRow(setting.name, _dtype(setting, device), error=_error(error)))
            continue
        rows.append(PrecisionRow(setting.name, _dtype(setting, device), ours.images_per_second,
                                 bare.images_per_second, ours.peak_mib))
    return rows


def best_setting(rows: list[PrecisionRow], settings: tuple[Setting, ...]) -> Setting:
    """The fastest setting that neither compiles (compiling every packed model would take longer
    than measuring them) nor needs CUDA graphs, fp32 when every row failed."""
    by_name = {s.name: s for s in settings if not s.compile and s.cuda_graphs == "off"}
    timed = [row for row in rows if row.setting in by_name and row.error is None]
    return by_name[max(timed, key=lambda row: row.trainer).setting] if timed else SETTINGS[0]


def measure_packing(plan: Plan, device: torch.device, setting: Setting) -> dict[str, list[PackedRun]]:
    """Section 2: each packing workload at every K, from one pool of max(K) processes."""
    with PackingPool(max(plan.ks), device) as pool:
        return {workload.model: [pool.run(workload, setting, k) for k in plan.ks] for workload in plan.packing}


def loader_rate(dataset: DatasetTensors, augment: str, *, batch_size: int, device: torch.device) -> float:
    """Images/s of the in-memory loader over one epoch, its first batch untimed."""
    mean, std = dataset.channel_stats()
    loader = InMemoryLoader(dataset.train_images, dataset.train_labels, batch_size=batch_size, mean=mean,
                            std=std, device=device, shuffle=True, augment=build_augmentation(augment),
                            drop_last=True)
    batches = iter(loader)
    next(batches)
    synchronize(device)
    start, images = time.perf_counter(), 0
    for batch, _ in batches:
        images += len(batch)
    synchronize(device)
    return images / max(time.perf_counter() - start, 1e-9)


def measure_loader(plan: Plan, device: torch.device, dataset: DatasetTensors,
                   fastest: float) -> list[LoaderRow]:
    """Section 3: the data path alone, against the trainer's fastest images/s."""
    rows = []
    for augment in LOADER_AUGMENTS:
        rate = loader_rate(dataset, augment, batch_size=plan.precision.batch_size, device=device)
        rows.append(LoaderRow(augment, rate, rate / fastest if fastest else 0.0))
    return rows


def project(plan: Plan, device: torch.device, packing: dict[str, list[PackedRun]]) -> Projection:
    """Section 4: each study row alone on the device with its own recipe and precision (as its
    spec row says), then packed as its reference model packs."""
    device_mib = torch.cuda.get_device_properties(device).total_memory / 2**20 if device.type == "cuda" else None
    study = study_rows(labels=plan.labels)
    rows, failed = [], {}
    for row in study:
        workload = plan.row_workload(row)
        try:  # the row's own train keys (amp, channels_last, cuda_graphs, optimizer, schedule) override the setting's
            timing = time_trainer(workload, Setting(row.label), device)
        except Exception as error:  # noqa: BLE001  (an out-of-memory model is a finding)
            failed[row.label] = _error(error)
            continue
        k, speedup = packing_for(row, timing.peak_mib, device_mib, packing)
        rows.append(RowProjection(row.label, row.model, row.input_size, workload.batch_size,
                                  timing.images_per_second, timing.peak_mib, k, speedup))
    return Projection(rows, failed, len(study) if plan.labels is None else len(study_configs()))


def run_gpu_bench(*, device: str = "cuda", quick: bool = False,
                  on_section: Callable[[str, GpuBench], None] = lambda section, bench: None) -> GpuBench:
    """Every section on ``device``, in order (each uses what the ones before measured); the
    projection, the longest, comes last. ``on_section`` sees each section's name and the bench
    after it, so a run cut short keeps what it measured."""
    target = torch.device(device)
    plan = QUICK if quick else FULL
    start = time.perf_counter()
    name = torch.cuda.get_device_name(target) if target.type == "cuda" else "cpu"
    bench = GpuBench(device, name, quick)

    def done(section: str) -> None:
        bench.seconds = time.perf_counter() - start
        on_section(section, bench)

    dataset = plan.precision.dataset()
    bench.precision = compare_precisions(plan.precision, plan.settings, target, dataset)
    done("trainer vs bare loop")
    if plan.small_batch is not None and target.type == "cuda":
        small = tuple(s for s in plan.settings if s.name in SMALL_BATCH_SETTINGS)
        bench.small_batch = compare_precisions(plan.small_batch, small, target, plan.small_batch.dataset())
        done("batch 128")
    setting = best_setting(bench.precision, plan.settings)
    bench.packing_setting = setting.name
    bench.packing = measure_packing(plan, target, setting)
    done("packing")
    fastest = max((row.trainer for row in bench.precision), default=0.0)
    bench.loader = measure_loader(plan, target, dataset, fastest)
    bench.policies = measure_policies(dataset.train_images.to(target), batch_size=plan.precision.batch_size,
                                      batches=plan.policy_batches)
    done("data path")
    bench.sharing = measure_sharing(plan.sharing, plan.ks, target, setting, cache=PackingCache())
    done("sharing")
    bench.projection = project(plan, target, bench.packing)
    done("projection")
    return bench
