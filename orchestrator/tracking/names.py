"""The tracking vocabulary: tags, run kinds, outcomes, summary metrics, the keys of a trial's
epoch report, the ranking rule and the rule for a trial's last report.

One module owns these names so the writer, the reader, the sweep and the reports agree on them.
Nothing here imports anything, so the trainer reports under these names without loading MLflow.
"""

from __future__ import annotations

TOP1, BEST_TOP1 = "val/top1", "val/best_top1"  # the accuracy studies rank by, and its best so far
# With data.val_split: the test split's top-1 each epoch, and at the epoch of the best validation top-1.
TEST_TOP1, TEST_AT_BEST = "test/top1", "test/top1_at_best"

TAG = "orchestrate."  # prefix of every tag this tool writes
KIND_SWEEP, KIND_TRIAL = "sweep", "trial"
OUTCOMES = ("finished", "pruned", "failed", "running")
# Runs closed before the outcome tag existed, or by a crash, still have an MLflow status.
OUTCOME_OF_STATUS = {"FINISHED": "finished", "KILLED": "pruned", "FAILED": "failed"}
BASELINE_LABEL = "baseline"  # the reference row of an ablation
SETTLE_FILE = "settle.json"  # on a sweep's parent run: each row's seeds-until-settled decision
REPORTED_FILE = "reported.json"  # on a sweep's parent run: the spec's ``reported`` section (a report's own numbers)

DEFAULT_METRIC, DEFAULT_MODE = TOP1, "max"
SUMMARY_TOP1, SUMMARY_TOP5 = "summary/best_top1", "summary/top5_at_best"  # best epoch: optimistic
SUMMARY_FINAL_TOP1 = "summary/final_top1"  # the last epoch's validation top-1
SUMMARY_TEST_AT_BEST = "summary/test_top1_at_best"  # with data.val_split: test top-1 at the best val epoch
# Summary metric of a finished run (logged at step 0) -> the epoch metric of its last report.
SUMMARY_FROM = {
    SUMMARY_TOP1: BEST_TOP1,
    SUMMARY_TOP5: "val/top5_at_best",
    SUMMARY_FINAL_TOP1: TOP1,
    SUMMARY_TEST_AT_BEST: TEST_AT_BEST,
    "summary/best_epoch": "val/best_epoch",
    "summary/params": "model/params",
    "summary/train_seconds": "time/train_seconds",
    "summary/epochs": "epoch",
    "summary/macs": "final/macs",
    "summary/trainable_params": "final/trainable_params",
}
SUMMARY_METRICS = (
    SUMMARY_TOP1, SUMMARY_TOP5, SUMMARY_FINAL_TOP1, SUMMARY_TEST_AT_BEST, "summary/best_epoch", "summary/params",
    "summary/macs", "summary/train_seconds",
)
PERCENT_METRICS = (SUMMARY_TOP1, SUMMARY_TOP5, SUMMARY_FINAL_TOP1, SUMMARY_TEST_AT_BEST)  # accuracies in %: their intervals stay inside [0, 100]
# The per-run value a configuration is ranked by: the last epoch's value (for top-1 its summary).
RANK_COLUMN = {TOP1: SUMMARY_FINAL_TOP1}
# The per-epoch value that tracks the ranking: the best so far for top-1, else the metric itself.
RUNNING_BEST = {TOP1: BEST_TOP1}


def rank_column(metric: str) -> str:
    return RANK_COLUMN.get(metric, metric)

# MLflow 3 opens an experiment on the view its kind names: without this tag a new experiment
# lands on the GenAI "Overview" of traces. The UI reads the tag and these values (mlflow 3.x).
EXPERIMENT_KIND_TAG, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
# MLflow 3.17's UI chooses between its GenAI and model-training views by a ``workflowType``
# query parameter (else a browser setting, GenAI by default) and reads the tag above only
# without it: links this tool prints carry the parameter.
UI_TRAINING_VIEW = "workflowType=machine_learning"
NOTE_TAG = "mlflow.note.content"  # the run's description in the UI (markdown)
PROVENANCE = TAG + "provenance."  # prefix of the parent run's provenance tags
COMMAND_TAG = PROVENANCE + "command"  # the exact command line
ADDED_TO_STUDY = TAG + "added_to_study"  # a sweep whose base config differs from the study's
SYSTEM_METRICS = ("sys/rss_mb", "sys/gpu_util", "sys/gpu_mem_mb")  # per epoch, with the others
# The optimizer values an epoch trained with: the scheduled LR, the base LR the schedule scales
# (which PBT mutates) and the weight decay (which PBT mutates too).
LR, BASE_LR, WEIGHT_DECAY = "opt/lr", "opt/base_lr", "opt/weight_decay"

# Keys of a trial's epoch report beside its metrics (Tune results, read by the driver).
NODE_KEY = "node_id"  # which Ray node trained the epoch (its IP is Tune's node_ip)
COPIED_FROM_KEY = "pbt/copied_from"  # reported once after a PBT exploit: the run whose weights were taken
RESUMED_FROM_KEY = "attempt/resumed_from"  # the epoch this attempt restored (0: none)
FAILURE_KEY = "failure"  # reported once before a trial raises: why it failed (one line)
TRACEBACK_KEY = "failure/traceback"  # with it: the plain-text traceback
TOTAL_EPOCHS_KEY = "total_epochs"  # the epochs the trial's recipe trains
STOPPED_EARLY_KEY = "stopped_early"  # 1.0 once the recipe's early stopping ended the trial
DEVICE_KEY = "device"  # the device type the trial trained on
CUDA_GRAPHS_KEY = "cuda_graphs"  # whether its training steps were captured: "on", or "off: why"
# On a trial's run, from those keys: where it trained and whether its steps ran as CUDA graphs.
DEVICE_TAG, CUDA_GRAPHS_TAG = TAG + DEVICE_KEY, TAG + CUDA_GRAPHS_KEY


def trained_out(result: dict) -> bool:
    """Whether a report is its trial's last: the last epoch trained, or the recipe's early stop."""
    return result.get("epoch", 0) >= result.get(TOTAL_EPOCHS_KEY, float("inf")) or bool(result.get(STOPPED_EARLY_KEY))


def stopped_by_scheduler(result: dict) -> bool:
    """Whether a trial's last report is short of its epochs for a reason other than the
    recipe's early stopping: a Tune scheduler (ASHA, HyperBand, median) stopped it."""
    return "epoch" in result and not trained_out(result)

# On the parent run: how trials shared each GPU (gpu_sharing's outcome mode) and its one line.
GPU_SHARING_TAG, GPU_SHARING_NOTE_TAG = TAG + "gpu_sharing", TAG + "gpu_sharing_note"
MEMBERS_KEY = "fused/members"  # a fused trial's report: each member's own result, by run key
# gpus_per_trial: auto, on the parent run: the share it resolved to, and its measurement table.
GPUS_PER_TRIAL_TAG, PACKING_ARTIFACT = TAG + "gpus_per_trial", "packing.json"
FUSED_PACKING_ARTIFACT = "fused_packing.json"  # fused_trials: auto, on the parent run: its measurement table
