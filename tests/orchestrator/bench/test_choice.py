"""``auto`` packing: the smallest K near the best aggregate that fits memory; measured once per key."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from orchestrator.bench.choice import CONTEXT_MIB, PackingCache, PackingKey, choose_k, measured
from orchestrator.bench.packing import PackedRun

# The H200 numbers at batch 128 under MPS (images/s), 2 GiB per process.
MPS = [PackedRun(1, 15_000.0, [2048.0]), PackedRun(2, 25_900.0, [2048.0] * 2),
       PackedRun(4, 51_300.0, [2048.0] * 4), PackedRun(8, 92_400.0, [2048.0] * 8)]
H200_MIB = 143_771.0


def test_the_smallest_k_within_ten_percent_of_the_best_that_fits() -> None:
    assert choose_k(MPS, H200_MIB) == 8
    flat = [PackedRun(1, 100.0), PackedRun(2, 104.0), PackedRun(4, 95.0), PackedRun(8, 50.0)]
    assert choose_k(flat, None) == 1  # 100 is within 10% of 104: one trial per GPU is as good
    near = [PackedRun(1, 50.0), PackedRun(2, 80.0), PackedRun(4, 92.0), PackedRun(8, 100.0)]
    assert choose_k(near, None) == 4


def test_a_processs_peak_is_what_its_allocator_reserved_not_what_its_tensors_filled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A process's cached blocks are lost to the others packed beside it: K processes fit when
    their reserves do."""
    from orchestrator.bench.workload import peak_mib

    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 1024 * 2**20)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda device=None: 3072 * 2**20)
    assert peak_mib(torch.device("cuda", 0)) == 3072.0 and peak_mib(torch.device("cpu")) is None


def test_a_k_that_does_not_fit_memory_with_headroom_is_not_chosen() -> None:
    # 8 x (16 GiB + a context) exceeds 85% of 141 GiB; 4 x does not.
    big = [PackedRun(run.k, run.images_per_second, [16_384.0] * run.k) for run in MPS]
    assert choose_k(big, H200_MIB) == 4
    assert 8 * (16_384.0 + CONTEXT_MIB) > 0.85 * H200_MIB > 4 * (16_384.0 + CONTEXT_MIB)
    # Eight peaks of 14,900 MiB fit the headroom; with a CUDA context per process they do not.
    tight = [PackedRun(run.k, run.images_per_second, [14_900.0] * run.k) for run in MPS]
    assert 8 * 14_900.0 < 0.85 * H200_MIB < 8 * (14_900.0 + CONTEXT_MIB)
    assert choose_k(tight, H200_MIB) == 4
    fused_one_process = PackedRun(8, 120_000.0, [40_000.0])  # one process holds all eight members
    assert choose_k([PackedRun(1, 15_000.0, [2048.0]), fused_one_process], H200_MIB) == 8


def test_failed_runs_are_never_chosen() -> None:
    failed = [*MPS[:3], PackedRun(8, 0.0, errors=["worker 5: out of memory"])]
    assert choose_k(failed, H200_MIB) == 4
    assert choose_k([PackedRun(1, 0.0, errors=["boom"])], None) is None


def key(**changes) -> PackingKey:
    fields = dict(gpu="NVIDIA H200", torch="2.11.0", cuda="12.8", model="resnet20", input_size=32,
                  batch_size=128, precision="amp+channels_last")
    return PackingKey(**{**fields, **changes})


def test_a_rerun_reads_the_cache_instead_of_measuring(tmp_path: Path) -> None:
    cache = PackingCache(tmp_path)
    calls: list[int] = []

    def measure() -> list[PackedRun]:
        calls.append(1)
        return MPS

    assert measured(key(), measure, cache) == (MPS, False)
    assert measured(key(), measure, PackingCache(tmp_path)) == (MPS, True)  # a new process, same file
    assert len(calls) == 1
    for other in (key(gpu="NVIDIA H100"), key(torch="2.12.0"), key(batch_size=1024), key(precision="fp32"),
                  key(model="resnet56"), key(input_size=64), key(cuda="13.0")):
        assert cache.get(other) is None
    assert measured(key(batch_size=1024), measure, cache)[1] is False and len(calls) == 2


def test_failed_measurements_are_not_cached_and_a_torn_file_measures_again(tmp_path: Path) -> None:
    cache = PackingCache(tmp_path)
    failing = [PackedRun(1, 10.0), PackedRun(2, 0.0, errors=["worker 1 exited with code 1"])]
    measured(key(), lambda: failing, cache)
    assert cache.get(key()) is None
    alone_failed = [PackedRun(1, 0.0, errors=["OutOfMemoryError: CUDA out of memory"]), *MPS[1:]]
    measured(key(), lambda: alone_failed, cache)
    assert cache.get(key()) is None  # one trial alone failing may be another process's memory
    cache.path.write_text("{not json")
    assert measured(key(), lambda: MPS, cache) == (MPS, False) and cache.get(key()) == MPS


def test_a_larger_k_out_of_memory_is_cached_as_a_finding_so_a_rerun_does_not_measure_again(tmp_path: Path) -> None:
    full = [*MPS[:3], PackedRun(8, 0.0, peak_mib=[], errors=["OutOfMemoryError: CUDA out of memory. Tried to "
                                                              "allocate 2.00 GiB"])]
    calls: list[int] = []

    def measure() -> list[PackedRun]:
        calls.append(1)
        return full

    assert measured(key(), measure, PackingCache(tmp_path)) == (full, False)
    assert measured(key(), measure, PackingCache(tmp_path)) == (full, True) and len(calls) == 1
    assert choose_k(full, None) == choose_k(MPS[:3], None)  # the cached failure still counts as not fitting


def test_the_key_names_this_machine() -> None:
    here = PackingKey.here(torch.device("cpu"), model="resnet20", input_size=32, batch_size=128, precision="fp32")
    assert here.gpu == "cpu" and here.torch == torch.__version__ and "resnet20" in here.text


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_key_names_the_gpu_model() -> None:
    here = PackingKey.here(torch.device("cuda"), model="resnet20", input_size=32, batch_size=128, precision="amp")
    assert here.gpu == torch.cuda.get_device_name() and here.cuda == torch.version.cuda


def test_measurements_under_mps_and_time_sliced_are_cached_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """K processes time-slicing a GPU run at 0.92x of one, under MPS at 6x (issue 23): a measurement
    made without a daemon (``--dry-run --measure``, a ``time_slice`` sweep) must not be the cached
    answer of a sweep that packs under MPS."""
    from orchestrator.run import gpu_sharing

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    fields = dict(model="resnet20", input_size=32, batch_size=128, precision="bf16+channels_last+graphs")
    monkeypatch.setattr(gpu_sharing, "running_daemon", lambda environ, control: (None, None))
    alone = PackingKey.here(torch.device("cuda"), **fields)
    monkeypatch.setattr(gpu_sharing, "running_daemon", lambda environ, control: (Path("/tmp/nvidia-mps"), None))
    served = PackingKey.here(torch.device("cuda"), **fields)
    assert (alone.sharing, served.sharing) == ("time_slice", "mps") and alone.text != served.text
