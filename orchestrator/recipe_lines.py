"""Each row's whole effective recipe, for ``--dry-run``: what will run, one aspect per line.

A reproduction goes wrong quietly when a default the user never wrote decides something: a
pretrained row resized to its weights' 224 px, label smoothing set by a variant, a pre-training
stage. So every line states the value in force after the base config, the row's changes and the
trainer's defaults, and where a default decided it, which one and why.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from .train.config import TrialConfig
from .spec.plans import TrialPlan
from .train.recipe import DataSpec, LrScheduleSpec, OptimizerSpec, TrainSpec

AMP = {"auto": "mixed precision on a GPU (bf16 where supported, else fp16), fp32 on CPU",
       "bf16": "bf16 autocast on a GPU", "fp16": "fp16 autocast with a grad scaler on a GPU", "off": "fp32"}


def recipe_section(plans: Optional[list[TrialPlan]], base: dict[str, Any]) -> list[str]:
    """Every configuration's recipe once (the base config's when rows are proposed while running)."""
    rows = {plan.config_key: plan for plan in plans or []}
    if plans is None:
        return ["recipe of the base configuration (the search varies it):", *_indent(recipe_lines(base))]
    lines = [f"recipes ({len(rows)} configurations):"]
    for plan in rows.values():
        lines += [f"  {plan.label}  [{plan.config_key}]", *_indent(recipe_lines(plan.config), 4)]
    return lines


def recipe_lines(config: dict[str, Any]) -> list[str]:
    """One resolved trial config's recipe, a line per aspect."""
    trial = TrialConfig.of_plan(config)
    weights, weights_cfg = _weights(trial)
    train = trial.train
    return [
        f"model        {_model(trial, weights)}",
        f"input        {_input(trial.data, trial.model.name, bool(weights), weights_cfg)}",
        f"data         {_data(trial.data)}",
        f"normalize    {_normalize(trial.data.normalize, bool(weights))}",
        f"loss         {_loss(train)}",
        f"optimizer    {_optimizer(train.optimizer)}",
        f"schedule     {_schedule(train.scheduler, train.epochs)}",
        f"stages       {_stages(train, weights)}",
        f"epochs       {train.epochs} (classification), batch {trial.data.batch_size}; {_stopping(train)}",
        f"precision    {AMP[train.amp]}; channels_last {_channels_last(train.channels_last)}, "
        f"compile {_on(train.compile)}, cuda_graphs {train.cuda_graphs}, device {train.device}",
    ]


def _indent(lines: list[str], by: int = 2) -> list[str]:
    return [" " * by + line for line in lines]


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _channels_last(flag: object) -> str:
    """``auto`` is settled per device in the trainer's setup; the dry run's last lines say what it gives here."""
    return "auto (on for CUDA under autocast, off on CPU and for fp32)" if flag == "auto" else _on(bool(flag))


def _options(options: dict[str, Any]) -> str:
    return f" {json.dumps(options, sort_keys=True)}" if options else ""


def _weights(trial: TrialConfig) -> tuple[list[str], dict[str, Any]]:
    """The pretrained weights the row loads and their ``pretrained_cfg`` (model built on meta)."""
    import models

    if not trial.model.options.get("pretrained"):
        return [], {}
    names, model = models.needed_weights(trial.model.name, **trial.model.options)
    return names, getattr(model, "pretrained_cfg", None) or {}


def _model(trial: TrialConfig, weights: list[str]) -> str:
    from .weights import is_available

    text = trial.model.name + _options(trial.model.options)
    if not weights:
        return f"{text}; from scratch"
    found = ", ".join(f"{name} ({'on this machine' if is_available(name) else 'missing: weights prefetch/import'})"
                      for name in weights)
    return f"{text}; pretrained weights {found}"


def _input(data: DataSpec, model: str, pretrained: bool, weights_cfg: dict[str, Any]) -> str:
    import models

    from .data.registry import dataset_info

    stored = dataset_info(data.dataset).input_size
    native = f"{stored[-1]} px" if stored else "the dataset's size"
    side = data.resize_side(pretrained, weights_cfg)
    if side is None:
        meant = models.default_input_size(model)
        note = f" ({model} is built for {meant} px)" if stored and meant != stored[-1] else ""
        return f"{native} as stored, not resized{note}"
    if stored and side == stored[-1]:
        return f"{side} px, the dataset's own size (data.image_size)"
    why = ("data.image_size" if data.image_size is not None else
           "the pretrained weights' input size, as data.image_size is unset (set it to train at another size)")
    return f"{side} px, resized from {native}: {why}"


def _data(data: DataSpec) -> str:
    augment = data.augment if isinstance(data.augment, str) else json.dumps(data.augment)
    labels = (f"{data.label_fraction:.0%} of the labels (stratified, split seed {data.split_seed})"
              if data.label_fraction not in (None, 1) else "all labels")
    held = (f"{data.val_split:.0%} of the training set held out for validation (the best epoch is chosen there)"
            if data.val_split else "no held-out split (validation is the dataset's test split)")
    subset = f"; a seeded subset of {data.subset} images" if data.subset else ""
    return f"{data.dataset}; augment {augment} ({data.augment_mode}); {labels}; {held}{subset}"


def _normalize(choice: str, pretrained: bool) -> str:
    if choice != "auto":
        return f"{choice} statistics"
    return ("the pretrained weights' statistics (auto, pretrained)" if pretrained
            else "the dataset's own statistics (auto, from scratch)")


def _loss(train: TrainSpec) -> str:
    parts = [f"cross-entropy, label smoothing {train.label_smoothing:g}"]
    if train.mixup is not None:
        parts.append(f"mixup alpha {train.mixup.mixup_alpha:g} / cutmix alpha {train.mixup.cutmix_alpha:g} "
                     f"(p {train.mixup.prob:g})")
    if train.grad_clip:
        parts.append(f"gradient norm clipped at {train.grad_clip:g}")
    if train.ema is not None:
        parts.append(f"weight EMA {train.ema.decay:g}")
    return "; ".join(parts)


def _optimizer(optimizer: OptimizerSpec) -> str:
    text = f"{optimizer.name} lr {optimizer.lr:g}, weight decay {optimizer.weight_decay:g}{_options(optimizer.options)}"
    if optimizer.no_decay_norm_bias:
        text += "; no decay on norms and biases"
    if optimizer.backbone_lr_scale != 1:
        text += f"; backbone lr x{optimizer.backbone_lr_scale:g}"
    return text


def _schedule(scheduler: LrScheduleSpec, epochs: int) -> str:
    """The schedule with its warm-up and the epochs where it cuts the LR."""
    options = scheduler.options
    text = scheduler.name + _options(options)
    if scheduler.warmup_epochs:
        text += f"; linear warm-up {scheduler.warmup_epochs} epochs from 1% of the LR"
    cuts = {
        "step": lambda: f"x{options.get('gamma', 0.1):g} every {options.get('step_size', 30)} "
                        f"{scheduler.interval or 'epoch'}s",
        "multistep": lambda: f"x{options.get('gamma', 0.1):g} at epochs "
                             f"{options.get('milestones') or [epochs // 2, epochs * 3 // 4]}",
        "plateau": lambda: f"x{options.get('factor', 0.1):g} after {options.get('patience', 10)} epochs "
                           f"without {options.get('metric', 'val/top1')} improving",
        "cyclic": lambda: "; ".join(
            [f"x{options.get('cut_factor', 0.1):g} from epoch {e}" for e in options.get("cut_epochs", [])]
            + [f"cycle restarted at epoch {e}" for e in options.get("restart_epochs", [])]) or "no cuts",
    }
    return text + (f"; cuts: {cuts[scheduler.name]()}" if scheduler.name in cuts else "; no cuts")


def _stages(train: TrainSpec, weights: list[str]) -> str:
    start = "fine-tuning pretrained weights" if weights else "training from scratch"
    if train.pretrain is None:
        return f"one: {start}"
    stage = train.pretrain
    masked = f", {stage.mask_holes} holes of {stage.mask_size} px cut from the input" if stage.mask_holes else ""
    return (f"pre-training {stage.epochs} epochs ({stage.loss} reconstruction of every training image, "
            f"{_optimizer(stage.optimizer)}, {_schedule(stage.scheduler, stage.epochs)}{masked}), "
            f"then classification {train.epochs} epochs ({start})")


def _stopping(train: TrainSpec) -> str:
    stop = train.early_stopping
    if stop is None:
        return "no early stopping"
    return f"early stopping after {stop.patience} epochs without {stop.metric} improving by {stop.min_delta:g}"
