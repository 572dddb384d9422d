"""run_sweep resolves ``gpus_per_trial: auto`` before any trial starts, after the sharing is set up."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from orchestrator.run import auto_share
from orchestrator.run import sweep as sweep_module
from orchestrator.study import parse_spec


class Chosen:
    share, rows = 0.25, [{"workload": "resnet20 32px b128 auto", "k": 4, "cached": False, "runs": []}]

    def table(self) -> list[str]:
        return ["the table"]


def sweep(monkeypatch: pytest.MonkeyPatch, *, cuda: bool, sharing: str, tmp_path: Path,
          train: Optional[dict] = None) -> tuple[dict, list[str]]:
    seen: dict = {}
    monkeypatch.setenv("PATH", str(tmp_path))  # no MPS binary: mps falls back to one trial per GPU
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(sweep_module, "prepare", lambda spec, **kwargs: (None, {}, {}))  # a search: the base config
    monkeypatch.setattr(sweep_module, "cuda_available", lambda: cuda)
    monkeypatch.setattr(sweep_module, "_run", lambda spec, sharing, **kwargs: seen.update(
        share=spec.resources.gpus_per_trial, measured=kwargs["measured"]))
    echoed: list[str] = []
    spec = parse_spec({"name": "auto", "train": train or {}, "resources": {"gpus_per_trial": "auto", "gpu_sharing": sharing}})
    calls: list[list[dict]] = []
    sweep_module.run_sweep(spec, echo=echoed.append, choose_share=lambda configs: calls.append(configs) or Chosen())
    seen["measured_configs"] = len(calls[0]) if calls else 0
    return seen, echoed


def test_on_a_shared_gpu_auto_takes_the_measured_share_and_prints_its_table(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen, echoed = sweep(monkeypatch, cuda=True, sharing="time_slice", tmp_path=tmp_path)
    assert seen["share"] == 0.25 and isinstance(seen["measured"], Chosen) and seen["measured_configs"] == 1
    assert echoed[-1] == "the table"


def test_without_cuda_auto_is_no_gpu_and_nothing_is_measured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen, echoed = sweep(monkeypatch, cuda=False, sharing="mps", tmp_path=tmp_path)
    assert seen == {"share": 0.0, "measured": None, "measured_configs": 0}
    assert echoed == ["gpus_per_trial auto: no CUDA device here, so trials train on CPU (nothing measured)"]


def test_trials_told_to_train_on_cuda_where_auto_finds_no_gpu_are_refused(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    """Each trial would be given no GPU share and fail at its start; the line said they train on CPU."""
    from orchestrator.errors import SpecError

    with pytest.raises(SpecError, match=r"^train.device: cuda, but resources.gpus_per_trial auto found no GPU here; "
                                        r"allowed: train.device auto or cpu$"):
        sweep(monkeypatch, cuda=False, sharing="mps", tmp_path=tmp_path, train={"device": "cuda"})


def test_trials_told_to_train_on_cpu_ask_for_no_gpu_and_nothing_is_measured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen, echoed = sweep(monkeypatch, cuda=True, sharing="time_slice", tmp_path=tmp_path, train={"device": "cpu"})
    assert seen == {"share": 0.0, "measured": None, "measured_configs": 0}
    assert echoed[-1] == "gpus_per_trial auto: train.device is cpu, so trials ask for no GPU (nothing measured)"


def test_without_mps_auto_is_one_trial_per_gpu_unmeasured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen, echoed = sweep(monkeypatch, cuda=True, sharing="mps", tmp_path=tmp_path)
    assert seen == {"share": 1.0, "measured": None, "measured_configs": 0}
    assert echoed[-1].startswith("gpus_per_trial auto: one trial per GPU")


def test_the_measured_share_and_table_are_recorded_on_the_parent_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import mlflow

    from orchestrator.designs import get_design
    from orchestrator.tracking.names import GPUS_PER_TRIAL_TAG, PACKING_ARTIFACT

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = parse_spec({"name": "auto", "data": {"dataset": "synthetic"}, "train": {"epochs": 1},
                       "tracking": {"uri": uri},
                       "resources": {"gpus_per_trial": "auto", "gpu_sharing": "time_slice"}})
    plans = get_design(spec.search.kind).expand(spec)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(sweep_module, "prepare", lambda spec, **kwargs: (plans, {}, {}))
    monkeypatch.setattr(sweep_module, "cuda_available", lambda: True)
    monkeypatch.setattr(sweep_module, "connect_ray", lambda address: None)
    monkeypatch.setattr(sweep_module, "_drive", lambda sweep, plans, outcome: sweep.tracker.end_sweep("FINISHED"))
    outcome = sweep_module.run_sweep(spec, echo=lambda line: None, plans=plans, choose_share=lambda configs: Chosen())
    client = mlflow.MlflowClient(tracking_uri=uri)
    assert client.get_run(outcome.parent_run_id).data.tags[GPUS_PER_TRIAL_TAG] == "0.25"
    recorded = mlflow.artifacts.load_dict(f"{client.get_run(outcome.parent_run_id).info.artifact_uri}/{PACKING_ARTIFACT}")
    assert recorded == {"k": 4, "workloads": Chosen.rows}


@pytest.mark.parametrize("gpus, share", [(4.0, 1.0), (0.0, 0.0)])
def test_on_a_cluster_auto_is_a_whole_gpu_per_trial_or_none_without_gpus(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gpus: float, share: float) -> None:
    monkeypatch.setattr(auto_share, "cluster_gpus", lambda address: gpus)
    monkeypatch.setattr(sweep_module, "prepare", lambda spec, **kwargs: (None, {}, {}))
    seen: dict = {}
    monkeypatch.setattr(sweep_module, "_run", lambda spec, sharing, **kwargs: seen.update(
        share=spec.resources.gpus_per_trial))
    echoed: list[str] = []
    spec = parse_spec({"name": "auto", "resources": {"gpus_per_trial": "auto"}})
    sweep_module.run_sweep(spec, address="10.0.0.1:6379", echo=echoed.append,
                           choose_share=lambda configs: pytest.fail("a cluster's nodes are not measured from here"))
    assert seen == {"share": share}
    assert echoed[-1].startswith("gpus_per_trial auto: ") and "cluster" in echoed[-1]


class ChosenFused:
    k, rows = 1, [{"workload": "resnet20 8px b32 auto", "k": 1, "cached": False, "runs": []}]

    def table(self) -> list[str]:
        return ["the fused table", "fused_trials auto: 1 trials per fused trial"]


def fused_auto_sweep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **run_kwargs) -> tuple[list[str], list[str], str]:
    """A sweep of four plans with ``fused_trials: auto`` on a CUDA machine, Tune's stage not run:
    the stages it fitted, the lines it printed, and its parent run's artifact folder."""
    import mlflow

    from orchestrator.designs import get_design

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = parse_spec({"name": "fused", "data": {"dataset": "synthetic"}, "train": {"epochs": 1},
                       "tracking": {"uri": uri}, "resources": {"fused_trials": "auto", "gpus_per_trial": 1},
                       "search": {"kind": "grid", "repeats": 2, "factors": {"train.optimizer.lr": [0.01, 0.1]}}})
    plans = get_design(spec.search.kind).expand(spec)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sweep_module, "prepare", lambda spec, **kwargs: (plans, {}, {}))
    monkeypatch.setattr(sweep_module, "cuda_available", lambda: True)
    monkeypatch.setattr(sweep_module, "connect_ray", lambda address: None)
    fitted: list[str] = []
    monkeypatch.setattr(sweep_module.Sweep, "fit", lambda self, space, **kwargs: fitted.append(kwargs["name"]))
    echoed: list[str] = []
    outcome = sweep_module.run_sweep(spec, echo=echoed.append, plans=plans, **run_kwargs)
    return fitted, echoed, mlflow.MlflowClient(tracking_uri=uri).get_run(outcome.parent_run_id).info.artifact_uri


def test_a_fused_measurement_is_printed_and_recorded_on_the_parent_run_whatever_k_it_chose(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """fused_trials: auto measures as gpus_per_trial: auto does, and its table is shown and kept
    the same way, also when it chose K = 1 (the stage then runs unfused)."""
    import mlflow

    from orchestrator.tracking.names import FUSED_PACKING_ARTIFACT

    fitted, echoed, artifacts = fused_auto_sweep(monkeypatch, tmp_path, choose_fused=lambda configs: ChosenFused())
    assert fitted == ["grid"] and "\n".join(ChosenFused().table()) in echoed
    recorded = mlflow.artifacts.load_dict(f"{artifacts}/{FUSED_PACKING_ARTIFACT}")
    assert recorded == {"k": 1, "workloads": ChosenFused.rows}


def test_a_sweep_on_a_cluster_does_not_measure_fused_trials_on_the_driver(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    fitted, echoed, _ = fused_auto_sweep(monkeypatch, tmp_path, address="10.0.0.1:6379",
                                         choose_fused=lambda configs: pytest.fail("the driver's GPU is not the nodes'"))
    assert fitted == ["grid"]
    assert ("fused trials: auto chose 1 (a cluster's GPUs are not measured from here; give fused_trials: K to "
            "fuse there)") in echoed
