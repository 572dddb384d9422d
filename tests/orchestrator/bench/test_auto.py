"""``gpus_per_trial: auto``: each distinct workload measured once (then cached), one K for the study."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from orchestrator.bench.auto import auto_share
from orchestrator.bench.choice import PackingCache
from orchestrator.bench.packing import PackedRun

# images/s at K = 1, 2, 4, 8: resnet20 is best at 8 but within 10% at 4; resnet56 saturates at 2.
RATES = {"resnet20": [15_000.0, 25_900.0, 88_000.0, 92_400.0], "resnet56": [10_000.0, 19_000.0, 19_500.0, 19_800.0]}


def config(model: str, batch: int = 128) -> dict:
    return {"data": {"batch_size": batch, "options": {"image_size": 32}}, "model": {"name": model},
            "train": {"amp": "bf16"}}


class FakeMeasure:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, workload, setting) -> list[PackedRun]:
        self.calls.append(workload.model)
        return [PackedRun(k, rate) for k, rate in zip((1, 2, 4, 8), RATES[workload.model])]


def test_each_workload_measured_once_and_the_smallest_k_among_them_chosen(tmp_path: Path) -> None:
    measure, cache = FakeMeasure(), PackingCache(tmp_path)
    configs = [config("resnet20"), config("resnet20"), config("resnet56")]  # two seeds of one workload
    alone = auto_share(configs[:2], device=torch.device("cpu"), measure=measure, cache=cache)
    assert alone.k == 4 and alone.share == 0.25  # the smallest K within 10% of the best, not 8
    both = auto_share(configs, device=torch.device("cpu"), measure=measure, cache=cache)
    assert [row["k"] for row in both.rows] == [4, 2] and both.k == 2
    assert measure.calls == ["resnet20", "resnet56"]  # resnet20's second study was a cache hit
    assert [row["cached"] for row in both.rows] == [True, False]
    table = both.table()
    assert "resnet20 32px b128 fp32" in table[2]  # bf16 asked, but a CPU measurement trains in fp32 and table[2].split()[-2:] == ["4", "yes"]
    assert table[-1] == "gpus_per_trial auto: 2 trials per GPU (gpus_per_trial 0.5)"


def test_a_workload_that_failed_everywhere_runs_one_trial_per_gpu_and_is_not_cached(tmp_path: Path) -> None:
    def failing(workload, setting) -> list[PackedRun]:
        return [PackedRun(k, 0.0, errors=["out of memory"]) for k in (1, 2, 4, 8)]

    chosen = auto_share([config("resnet20")], device=torch.device("cpu"), measure=failing,
                        cache=PackingCache(tmp_path))
    assert chosen.k == 1 and not (tmp_path / "packing.json").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_real_measurement_on_cuda_chooses_a_k_and_caches_it(tmp_path: Path) -> None:
    cache = PackingCache(tmp_path)
    first = auto_share([config("resnet20")], device=torch.device("cuda", 0), cache=cache)
    assert first.k in (1, 2, 4, 8) and {run["k"] for run in first.rows[0]["runs"]} == {1, 2, 4, 8}
    again = auto_share([config("resnet20")], device=torch.device("cuda", 0), cache=cache)
    assert again.rows[0]["cached"] and again.k == first.k


def test_fused_auto_is_measured_and_cached_apart_from_packing(tmp_path: Path) -> None:
    from orchestrator.bench.auto import auto_fused

    measure, cache = FakeMeasure(), PackingCache(tmp_path)
    packed = auto_share([config("resnet20")], device=torch.device("cpu"), measure=measure, cache=cache)
    fused = auto_fused([config("resnet20")], device=torch.device("cpu"), measure=measure, cache=cache)
    assert measure.calls == ["resnet20", "resnet20"]  # a packing measurement is not a fused one
    assert packed.k == fused.k == 4 and not fused.rows[0]["cached"]
    assert fused.table()[-1] == "fused_trials auto: 4 trials per fused trial"
    assert auto_fused([config("resnet20")], device=torch.device("cpu"), measure=measure, cache=cache).rows[0]["cached"]


def test_a_measurement_trains_the_trials_recipe_and_is_named_as_it_resolves_on_the_device() -> None:
    from orchestrator.bench.auto import workload_of

    cuda = torch.device("cuda")  # only named: resolving a recipe for it needs no GPU
    recipe = {"amp": "bf16", "channels_last": "auto", "cuda_graphs": "auto", "optimizer": {"name": "adamw", "lr": 1e-3}}
    workload, setting = workload_of({**config("resnet20"), "train": recipe}, cuda)
    assert setting.name == "bf16+channels_last+graphs"
    trained = workload.config(setting, cuda)["train"]
    assert (trained["channels_last"], trained["cuda_graphs"], trained["optimizer"]["name"]) == ("auto", "auto", "adamw")
    names = [workload_of({**config("resnet20"), "train": {**recipe, **change}}, cuda)[1].name
             for change in ({"channels_last": False}, {"channels_last": True}, {"cuda_graphs": "off"},
                            {"optimizer": {"name": "rmsprop", "lr": 1e-3}}, {"amp": "off"}, {"compile": True})]
    assert names == ["bf16+graphs", "bf16+channels_last+graphs", "bf16+channels_last",
                                    "bf16+channels_last", "fp32+graphs", "bf16+channels_last+compile"]
    assert workload_of({**config("resnet20"), "train": recipe}, torch.device("cpu"))[1].name == "fp32"
    fused = workload_of({**config("resnet20"), "train": recipe}, cuda, fused=True)[1].name
    assert fused == "bf16+channels_last+fused"  # a fused step is not captured, whatever the recipe asks


def test_recipes_that_train_differently_are_measured_apart_and_alike_ones_once(tmp_path: Path) -> None:
    measure, cache = FakeMeasure(), PackingCache(tmp_path)
    wide = {**config("resnet20"), "model": {"name": "resnet20", "pretrained": False, "width": 2}}
    alike = {**config("resnet20"), "model": {"name": "resnet20", "pretrained": True}}  # weights cost no step
    chosen = auto_share([config("resnet20"), wide, alike], device=torch.device("cpu"), measure=measure, cache=cache)
    assert measure.calls == ["resnet20", "resnet20"] and len(chosen.rows) == 2
    assert chosen.rows[1]["workload"].startswith("resnet20('width': 2) 32px")


def test_the_bench_caches_its_mps_runs_under_the_key_a_sweep_under_mps_reads(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    """``bench gpu``'s sharing section writes its MPS runs after its daemon has stopped: they are
    read by a sweep that trains the same recipe under MPS, not measured again."""
    from types import SimpleNamespace

    from orchestrator.bench.sharing import FULL_WORKLOADS, mps_key
    from orchestrator.bench.workload import Setting
    from orchestrator.run import gpu_sharing

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: SimpleNamespace(total_memory=2**37))
    cuda, cache = torch.device("cuda"), PackingCache(tmp_path)
    runs = [PackedRun(k, rate) for k, rate in zip((1, 2, 4, 8), RATES["resnet20"])]
    cache.put(mps_key(cuda, FULL_WORKLOADS[0], Setting("amp+channels_last", channels_last=True)), runs)
    monkeypatch.setattr(gpu_sharing, "running_daemon", lambda environ, control: (Path("/tmp/nvidia-mps"), None))
    sweep = {**config("resnet20"), "train": {"amp": "auto", "channels_last": True, "cuda_graphs": "off"}}
    chosen = auto_share([sweep], device=cuda, measure=lambda *args: pytest.fail("measured again"), cache=cache)
    assert chosen.rows[0]["cached"] and chosen.k == 4
