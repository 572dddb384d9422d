"""The command line: dry runs, one-line errors with exit code 2, and an untouched store."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest
import torch
import yaml
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.spec import plans
from orchestrator.tracking.store import resolve_uri

REPO = Path(__file__).resolve().parents[2]
GPU_SHARE_ALLOWED = "resources.gpus_per_trial: allowed: a GPU share >= 0 (e.g. 0.25, 1, 2) or auto"
FUSED_ALLOWED = "resources.fused_trials: allowed: an integer >= 1 (trials fused in one process) or auto"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_dry_run_of_the_eca_ablation_lists_twelve_trials_without_data() -> None:
    result = invoke("sweep", "ablations/eca_ksize.yaml", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "12 trials (4 configurations)"
    assert len(lines) == 13 + 1 + 4 * 11 + 3  # the trials, each configuration's recipe, then the summary
    assert [line.split()[3] for line in lines[1:13]] == (
        ["baseline"] * 3 + ["k_size=3"] * 3 + ["k_size=5"] * 3 + ["k_size=7"] * 3)
    assert not Path("mlflow.db").exists() and not Path("data").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", "nope.yaml"], "nope.yaml: no such spec file"),
        (["sweep", "quickstart.yaml", "train.epochs=zero"], "train.epochs: Input should be a valid integer"),
        (["sweep", "quickstart.yaml", "model.name=resnet21"], "model.name: unknown model 'resnet21'"),
        (["sweep", "quickstart.yaml", "epochs"], "override 'epochs': expected key=value"),
        # Tried on 2 images of that size at validation: was exit 1 with torch's storage overflow.
        (["sweep", "quickstart.yaml", "data.image_size=1000000000"],
         "data.image_size: Input should be less than or equal to 2048 (got 1000000000)"),
        # A pretrained model is built as the weights' lookup builds it, without fetching them:
        # was not built at all, and the dry run's recipe lines ended in the builder's ValueError.
        (["sweep", "quickstart.yaml", "model.name=resnet50", "model.attention=null", "model.pretrained=true",
          "model.stem=cifar"],
         "model: resnet50 cannot be built with these options: ImageNet weights need stem='imagenet', got stem='cifar'"),
        # Each planned trial is made up front: a mistyped count filled the memory (MemoryError, exit 1).
        # Dry runs, so that without the bound the case fails in seconds instead of running a sweep.
        (["sweep", "quickstart.yaml", "search.repeats=1001", "--dry-run"],
         "search.repeats: Input should be less than or equal to 1000 (got 1001)"),
        (["sweep", "hpo/resnet56_cifar100_tpe_asha.yaml", "search.num_samples=100001", "--dry-run"],
         "search.num_samples: Input should be less than or equal to 100000 (got 100001)"),
        (["sweep", "quickstart.yaml", "resources.gpus_per_trial=-1"], GPU_SHARE_ALLOWED),
        (["sweep", "quickstart.yaml", "resources.gpus_per_trial=half"], GPU_SHARE_ALLOWED),
        (["sweep", "quickstart.yaml", "resources.gpus_per_trial=.nan"], GPU_SHARE_ALLOWED),
        (["sweep", "quickstart.yaml", "resources.gpus_per_trial=.inf"], GPU_SHARE_ALLOWED),
        (["sweep", "quickstart.yaml", "resources.fused_trials=four"], FUSED_ALLOWED),
        (["sweep", "quickstart.yaml", "resources.fused_trials=true"], FUSED_ALLOWED),
        (["sweep", "quickstart.yaml", "resources.fused_trials=0"], FUSED_ALLOWED),
        (["sweep", "quickstart.yaml", "resources.gpu_sharing=exclusive"],
         "resources.gpu_sharing: Input should be 'mps' or 'time_slice'"),
        # Ray hides every GPU from a trial given no share: every trial failed at its start.
        (["sweep", "quickstart.yaml", "train.device=cuda"],
         "train.device: cuda needs a GPU for each trial, but resources.gpus_per_trial is 0; allowed: "
         "train.device auto or cpu, or resources.gpus_per_trial above 0 or auto"),
        (["sweep", "quickstart.yaml", "--measure"],
         "--measure goes with --dry-run: it measures and projects, it runs nothing"),
        # A store scheme MLflow has no store for: was exit 1 with MLflow's registry exception,
        # after the sweep said it was starting (and on leaderboard / report likewise).
        (["sweep", "quickstart.yaml", "tracking.uri=sqlit:///x.db"], "tracking.uri: unsupported scheme 'sqlit'"),
        (["leaderboard", "quickstart", "--tracking-uri", "sqlit:///x.db"], "tracking store: unsupported scheme"),
        (["report", "quickstart", "--tracking-uri", "sqlit:///x.db"], "tracking store: unsupported scheme 'sqlit'"),
        # MLflow's file store, which MLflow 3 opens only when told to: was exit 1 with MLflow's
        # paragraph about its maintenance mode, after the sweep said it was starting.
        (["sweep", "quickstart.yaml", "tracking.uri=./mlruns"],
         "tracking.uri: ./mlruns is MLflow's file store, which MLflow opens only with MLFLOW_ALLOW_FILE_STORE=true"),
        (["leaderboard", "quickstart", "--tracking-uri", "file:///tmp/mlruns"],
         "tracking store: file:///tmp/mlruns is MLflow's file store"),
        # Was exit 1 with pandas' OSError, once the table had been read.
        (["leaderboard", "quickstart", "--csv", "missing/board.csv"],
         "Invalid value for '--csv': folder missing does not exist (see orchestrate leaderboard --help)"),
        # Refused by click's parser: one line too, not its usage and hint first.
        (["leaderboard", "quickstart", "--format", "xml"],
         "Invalid value for '--format': 'xml' is not one of 'text', 'csv', 'md', 'tex'. "
         "(see orchestrate leaderboard --help)"),
        (["swep", "quickstart.yaml"], "No such command 'swep'. Did you mean 'sweep'? (see orchestrate --help)"),
        (["sweep", "quickstart.yaml", "--dryrun"], "No such option '--dryrun'"),
        (["--bogus"], "No such option '--bogus'. (see orchestrate --help)"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(args: list[str], message: str) -> None:
    result = invoke(*args)
    lines = result.output.strip().splitlines()
    assert (result.exit_code, len(lines)) == (2, 1), lines[:3]  # the head only: a dry run lists every trial
    assert lines[0] == f"error: {message}" or message in lines[0]
    assert not Path("mlflow.db").exists() and not Path("ray_results").exists()


@pytest.mark.parametrize(("kind", "key"), [("grid", "factors"), ("optuna", "grid")])
def test_a_grid_of_too_many_combinations_is_refused_before_any_is_made(
        kind: str, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not made: made, a mistyped grid of billions fills the memory. The limit is
    lowered here so that, without the count, the test fails in seconds rather than in minutes."""
    monkeypatch.setattr(plans, "MAX_CONFIGURATIONS", 1000)
    levels = {"train.epochs": list(range(1, 12)), "train.seed": list(range(10)),
              "train.optimizer.momentum": [i / 10 for i in range(10)]}
    search = {"kind": kind, key: levels}
    if kind == "optuna":
        search["space"] = {"train.optimizer.lr": {"loguniform": [0.01, 0.1]}}
    Path("big.yaml").write_text(yaml.safe_dump({"name": "big", "search": search}))
    result = invoke("sweep", "big.yaml", "--dry-run")
    assert result.exit_code == 2
    assert result.output.strip() == f"error: search.{key}: 1,100 combinations of levels; a study plans at most 1,000"



@pytest.mark.parametrize("command", [["leaderboard", "missing"], ["report", "missing"], ["ui", "missing"]])
@pytest.mark.parametrize("store", ["none", "another study"])
def test_read_only_commands_on_an_unknown_study_exit_2_and_create_nothing(
        command: list[str], store: str, store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI's server made a database at a mistyped store path (in folders it made too)."""
    def server_started(*args) -> None:
        raise AssertionError(f"the MLflow server was started: {args}")

    monkeypatch.setattr(os, "execvp", server_started)
    if store != "none":
        mlflow.MlflowClient(tracking_uri=store_uri).create_experiment("other")
    before = sorted(tmp_path.rglob("*"))
    result = invoke(*command, "--tracking-uri", store_uri)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    message = "no study named 'missing'" if store != "none" else "no MLflow store at"
    assert result.output.startswith(f"error: {message}")
    assert sorted(tmp_path.rglob("*")) == before  # no mlflow.db, no reports/missing


def test_a_spec_that_is_a_folder_or_not_text_is_one_line_and_exit_2() -> None:
    """Both ended in Python's IsADirectoryError or UnicodeDecodeError, exit 1."""
    Path("binary.yaml").write_bytes(bytes(range(128, 256)))
    for spec, message in (("ablations", "ablations: a folder; a spec is one YAML file, e.g. ablations/"),
                          ("binary.yaml", "binary.yaml: not a text file; a spec is YAML (UTF-8)")):
        result = invoke("sweep", spec, "--dry-run")
        assert (result.exit_code, result.output.count("\n")) == (2, 1), result.output
        assert result.output.startswith(f"error: {message}")


def test_a_file_store_in_the_environment_is_refused_before_ray_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """No spec check sees $MLFLOW_TRACKING_URI: the store's own check does, before anything
    opens it (MLflow refused it with a paragraph, exit 1)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "mlruns")
    result = invoke("sweep", "quickstart.yaml")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith("error: tracking store: mlruns is MLflow's file store")
    assert not Path("mlruns").exists() and not Path("ray_results").exists()


def test_a_store_given_as_a_database_path_is_that_sqlite_store(store_uri: str, tmp_path: Path) -> None:
    """--help gives the default as ./mlflow.db: a path, which MLflow alone reads as a file store."""
    mlflow.MlflowClient(tracking_uri=store_uri).create_experiment("other")
    database = store_uri.removeprefix("sqlite:///")
    assert resolve_uri(os.path.relpath(database)) == store_uri
    result = invoke("leaderboard", "other", "--tracking-uri", database)
    assert result.exit_code == 0, result.output
    assert "other: no trial runs yet" in result.output


BAD_FACTORS = {
    "an unknown model": ({"model.name": ["resnet20", "resnt32"]}, "unknown model 'resnt32'; did you mean resnet32"),
    "an option the model lacks": ({"model.depth": [1, 2]}, "model resnet20 has no option 'depth'"),
    "a bad option value": ({"model.attention": ["eca", "nope"]}, "unknown attention 'nope'"),
    "no levels": ({"model.name": []}, "factor 'model.name' has no levels"),
    # Built on the meta device and run on the study's input: every trial of the level failed
    # at its first batch (Mixer-B/16's token mixing is sized for 224 px).
    "a model that cannot run at the study's size": (
        {"model.name": ["resnet20", "mlp_mixer_b16"]},
        "mlp_mixer_b16 cannot run on 32 px inputs (synthetic's images as stored): Input height (32) doesn't "
        "match model (224)."),
    # A model's options are checked against its builder's annotations, bounds included: timm's
    # DropPath took 5 and failed every trial at its first training step.
    "a stochastic-depth rate of 1 or more": (
        {"model.drop_path_rate": [0.1, 5.0]},
        "model.drop_path_rate: model convnext_cifar: Input should be less than 1 (got 5.0)", "convnext_cifar"),
    "a number in quotes": ({"model.drop_path_rate": [0.1, "0.2"]},
                           "model.drop_path_rate: model convnext_cifar: Input should be a valid number, not text in "
                           "quotes (got '0.2')", "convnext_cifar"),
    "an option of the wrong type": ({"model.depths": [[1, 1, 1, 1], "deep"]},
                                    "model.depths: model convnext_cifar: Input should be a valid tuple (got 'deep')",
                                    "convnext_cifar"),
}


@pytest.mark.parametrize("kind", ["grid", "ablation"])
@pytest.mark.parametrize("case", BAD_FACTORS, ids=list(BAD_FACTORS))
def test_a_factor_level_that_cannot_be_built_is_refused_before_anything_starts(kind: str, case: str) -> None:
    factors, message, *base = BAD_FACTORS[case]
    spec = {"name": "bad", "data": {"dataset": "synthetic"}, "model": {"name": base[0] if base else "resnet20"},
            "train": {"epochs": 1}, "search": {"kind": kind, "factors": factors}}
    Path("bad.yaml").write_text(yaml.safe_dump(spec))
    result = invoke("sweep", "bad.yaml")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: search") and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not Path("mlflow.db").exists() and not Path("ray_results").exists() and not Path("data").exists()


def test_a_model_that_cannot_run_on_an_image_folders_decoded_size_is_refused_before_ray_starts(image_folder) -> None:
    """Only the files say an image folder's size: the driver decodes it before Ray starts and runs
    each row's model on it there (every trial of the row failed at its first batch)."""
    image_folder(Path("photos"), {"cat": 6, "dog": 6}, size=16)
    spec = {"name": "folder", "data": {"dataset": "imagefolder", "root": "cache", "batch_size": 4,
                                       "options": {"path": "photos"}},
            "model": {"name": "resnet20"}, "train": {"epochs": 1},
            "search": {"kind": "grid", "factors": {"model.name": ["resnet20", "mlp_mixer_b16"]}}}
    Path("folder.yaml").write_text(yaml.safe_dump(spec))
    assert invoke("sweep", "folder.yaml", "--dry-run").exit_code == 0  # the spec alone cannot tell
    result = invoke("sweep", "folder.yaml")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        'error: row name="mlp_mixer_b16": model.name: mlp_mixer_b16 cannot run on 16 px inputs (imagefolder\'s images '
        "as decoded; set data.image_size): Input height (16) doesn't match model (224).")
    assert not Path("mlflow.db").exists() and not Path("ray_results").exists()


def test_models_lists_the_registry_with_params() -> None:
    result = invoke("models", "resnet2*")
    assert result.exit_code == 0
    assert "resnet20" in result.output and "0.276" in result.output


def test_an_unreachable_ray_address_is_one_line_and_exit_1() -> None:
    result = invoke("sweep", "quickstart.yaml", "--address", "127.0.0.1:1")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach a Ray cluster at 127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not Path("mlflow.db").exists()


def test_an_unreachable_tracking_server_is_one_line_and_exit_1() -> None:
    result = invoke("sweep", "quickstart.yaml", "tracking.uri=http://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.stdout.startswith("study quickstart: 8 trials; checking the store and data, then starting Ray")
    assert result.stderr.strip() == "error: cannot reach the MLflow tracking server at http://127.0.0.1:9: ConnectionError"


@pytest.mark.parametrize("name", ["resnet56_cifar100_tpe_asha", "attention_blocks_nsga2", "resnet56_cifar100_pbt"])
def test_every_hpo_spec_dry_runs(name: str) -> None:
    result = invoke("sweep", f"hpo/{name}.yaml", "--dry-run")
    assert result.exit_code == 0, result.output
    assert not Path("mlflow.db").exists() and not Path("data").exists()
    lines = result.output.strip().splitlines()[:-3]  # less the summary
    if name.endswith("pbt"):
        assert lines[0] == "8 trials (4 configurations)" and lines[-1].startswith("pbt: every 10 epochs")
    if name.endswith("asha"):
        assert lines[-1] == "asha: grace 10 epochs, keep 1/3 of trials at each rung"


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("orchestrate, version ")


def test_dry_run_summarises_data_epochs_resources_objectives_and_cost() -> None:
    result = invoke("sweep", "quickstart.yaml", "--dry-run")
    summary = result.output.strip().splitlines()[-3:]
    assert summary[0] == ("dataset digits, model resnet20, 6 epochs; on cpu: amp off, channels_last off "
                          "(auto), cuda_graphs off: the trial trains on cpu (CUDA graphs need CUDA)")
    assert summary[1] == "per trial: 1 CPUs, 0 GPUs; objectives: val/top1 (max)"
    assert summary[2].startswith("cost: 48 trial-epochs at most; ~") and "s per trial-epoch" in summary[2]
    on_cpu = invoke("sweep", "quickstart.yaml", "--dry-run", "train.device=cpu", "resources.gpus_per_trial=0.5")
    assert on_cpu.output.strip().splitlines()[-1] == result.output.strip().splitlines()[-1]  # timed as CPU trials
    on_gpu = invoke("sweep", "quickstart.yaml", "--dry-run", "train.device=cuda", "resources.gpus_per_trial=1")
    assert on_gpu.output.strip().splitlines()[-1].startswith("cost: 48 trial-epochs at most; ~")


@pytest.mark.parametrize(
    ("overrides", "warning"),
    [
        (["train.epochs=10"], "search.scheduler.grace_period (10) >= train.epochs (10): asha never stops a trial"),
        (["search.confirm.top_k=65"], "search.confirm.top_k (65) > search.num_samples (64)"),
        (["train.scheduler.warmup_epochs=300"], "train.scheduler.warmup_epochs (300) >= train.epochs (200)"),
        (["train.device=cpu", "resources.gpus_per_trial=0.5"],
         "train.device is cpu but resources.gpus_per_trial asks 0.5 GPU per trial: each trial holds a GPU share "
         "it does not use (resources.gpus_per_trial=0 frees it)"),
    ],
)
def test_contradictory_settings_warn_at_validation(overrides: list[str], warning: str) -> None:
    result = CliRunner().invoke(main, ["sweep", "hpo/resnet56_cifar100_tpe_asha.yaml", *overrides, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"warning: {warning}" in result.stderr


QUIET_PROBE = """
import logging, sys
from orchestrator.commands import RAY_AUTH_LOGGER, RAY_TUNE_LOGGER, quiet_libraries
if sys.argv[1] == "quiet":
    quiet_libraries()
logging.basicConfig()
from mlflow import MlflowClient
MlflowClient("sqlite:///probe.db").search_experiments()  # a new store: MLflow's INFO lines
logging.getLogger(RAY_AUTH_LOGGER).warning("Token authentication is disabled for this Ray cluster.")
logging.getLogger(RAY_TUNE_LOGGER).error("Trials did not complete: %s", ["3a4bb096b2-s0"])
logging.getLogger(RAY_TUNE_LOGGER).error("Tune's other errors still show")
"""


@pytest.mark.parametrize("mode", ["quiet", "debug"])
def test_mlflow_info_and_rays_token_warning_show_only_with_debug(mode: str) -> None:
    """With Tune's list of the failed trials' ids, which the sweep's summary gives with reasons."""
    import subprocess
    import sys

    # Without the level an earlier command of this test process set for MLflow in the environment.
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_LOGGING_LEVEL"}
    done = subprocess.run([sys.executable, "-c", QUIET_PROBE, mode], capture_output=True, text=True,
                          cwd=Path.cwd(), env={**env, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = ("INFO mlflow" in done.stderr, "Token authentication" in done.stderr, "3a4bb096b2-s0" in done.stderr)
    assert shown == ((False, False, False) if mode == "quiet" else (True, True, True))
    assert "Tune's other errors still show" in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal of a machine without CUDA")
def test_measure_without_cuda_is_one_line_exit_2_and_nothing_written() -> None:
    result = invoke("sweep", "quickstart.yaml", "--dry-run", "--measure")
    assert result.exit_code == 2
    assert result.output.strip() == "error: --measure needs a CUDA device: it times the study's workloads on a GPU (none here)"
    assert not Path("mlflow.db").exists() and not Path("ray_results").exists()


def test_a_reader_that_leaves_early_gets_no_error_line(tmp_path: Path) -> None:
    """``orchestrate sweep SPEC --dry-run | head -1``: the reader has what it wanted."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    dry_run = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "sweep", "quickstart.yaml", "--dry-run"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dry_run.stdout.close()  # gone before the first line is printed (the imports take a second or more)
    errors = dry_run.stderr.read()
    assert dry_run.wait(timeout=120) == 1 and errors == ""


@pytest.mark.parametrize("variable", ["ORCHESTRATE_STORAGE_PATIENCE", "ORCHESTRATE_TRACKING_PATIENCE"])
def test_a_bad_patience_in_the_environment_is_refused_before_the_sweep_starts(
        variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read once trials checkpoint (or the store is opened): the parent run was left FAILED."""
    monkeypatch.setenv(variable, "five minutes")
    result = invoke("sweep", "quickstart.yaml")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {variable}='five minutes': expected a number of seconds >= 0"
    assert not Path("mlflow.db").exists() and not Path("ray_results").exists()
