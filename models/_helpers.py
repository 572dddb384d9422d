"""What several families share: pretrained weights through timm, and backbone freezing.

A model built with pretrained weights carries the normalisation those weights were trained with
(:func:`pretrained_normalization`), so the data pipeline can use ImageNet statistics for it and
the dataset's own statistics for everything trained from scratch.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal

import timm
import torch.nn as nn
from huggingface_hub.errors import HfHubHTTPError

from ._weights import probing, stored_file, weight_name

Freeze = Literal["backbone"]


class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for but could not be fetched or found in the cache."""


# timm fetches weights with huggingface_hub (a timm dependency) or torch.hub; offline, both end
# in an OSError subclass, except the Hub client's HTTP errors.
DOWNLOAD_ERRORS = (OSError, HfHubHTTPError)


def create_timm(name: str, *, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """``timm.create_model`` that loads pretrained weights from the local store when it has
    them (``_weights``), and whose failure to download them says so in one plain sentence."""
    if not pretrained:
        return timm.create_model(name, **kwargs)
    probe = probing()
    if probe is not None:  # only asked which weights this build loads
        probe.append(weight_name(name))
        model = timm.create_model(name, **kwargs)
        return mark_pretrained(model, model.pretrained_cfg)
    stored = stored_file(weight_name(name))
    if stored is not None:  # timm's own override: load this file instead of downloading
        kwargs["pretrained_cfg_overlay"] = {**kwargs.get("pretrained_cfg_overlay", {}), "file": str(stored)}
    try:
        model = timm.create_model(name, pretrained=True, **kwargs)
    except DOWNLOAD_ERRORS as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PretrainedWeightsUnavailable(
            f"pretrained weights for {name} could not be downloaded: no network connection and no "
            f"cached copy (timm fetches them from the Hugging Face Hub into $HF_HOME). Fetch them ahead "
            f"with `orchestrate weights prefetch SPEC` or `orchestrate weights import {weight_name(name)} FILE`, "
            f"or set pretrained: false. Cause: {cause}"
        ) from exc
    return mark_pretrained(model, model.pretrained_cfg)


def mark_pretrained(model: nn.Module, cfg: dict[str, Any]) -> nn.Module:
    """Record on ``model`` the input mean and std of the weights it was loaded with."""
    model.pretrained_normalization = (tuple(cfg["mean"]), tuple(cfg["std"]))
    return model


def pretrained_normalization(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(mean, std) the model's pretrained weights expect, or None when it was not pretrained."""
    return getattr(model, "pretrained_normalization", None)


def freeze_backbone(model: nn.Module, trainable: Iterable[nn.Module]) -> nn.Module:
    """Stop gradients to every parameter except those of the ``trainable`` modules (the head).

    BatchNorm layers keep updating their running statistics in train mode, as in the usual
    "train only the new classifier" fine-tuning the seed-002 report describes.
    """
    model.requires_grad_(False)
    for module in trainable:
        module.requires_grad_(True)
    return model


def apply_freeze(model: nn.Module, freeze: Freeze | None, trainable: Iterable[nn.Module]) -> nn.Module:
    if freeze is None:
        return model
    if freeze != "backbone":
        raise ValueError(f"freeze must be 'backbone' or null, got {freeze!r}")
    return freeze_backbone(model, trainable)
