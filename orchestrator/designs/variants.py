"""Named variants: rows that each change any set of keys, recipe included.

Seed 003 compares 17 models, each family trained with its own recipe (SGD + cosine for the
ResNets, AdamW + warm-up for ConvNeXt, fine-tuning for pretrained timm models): one row changes
the model *and* the recipe, which a factor grid cannot say. Each variant is a name and its dotted
overrides of ``data.*``, ``model.*`` and ``train.*``; ``reference`` names the row the others are
compared with. Labels in MLflow, the leaderboard and the report are the variant names.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from ..errors import OptionError, SpecError
from ..spec.plans import Cell, TrialPlan
from ..spec.study import StudySpec
from .base import Design, DesignOptions, register_design
from .settle import SettleSpec, check_settle


def recipe_line(config: dict[str, Any]) -> str:
    """The effective recipe of a resolved trial config, in one line."""
    data, model, train = config["data"], config["model"], config["train"]
    optimizer, scheduler = train["optimizer"], train["scheduler"]
    model_text = model["name"] + _options(model)
    schedule = scheduler["name"] + _options(scheduler)
    size = f" {data['image_size']}px" if data.get("image_size") else ""
    return (f"{model_text} | {data['dataset']}{size} aug={data['augment']} bs={data['batch_size']} | "
            f"{optimizer['name']} lr={optimizer['lr']:.4g} wd={optimizer['weight_decay']:.4g} | "
            f"{schedule} | {train['epochs']} epochs")


def _options(section: dict[str, Any]) -> str:
    """A section's set options beside its name, e.g. ``{"warmup_epochs": 5}``."""
    options = {k: v for k, v in section.items() if k != "name" and v not in (None, 0, {}, [])}
    return f" {json.dumps(options, sort_keys=True)}" if options else ""


class VariantsOptions(DesignOptions):
    kind: Literal["variants"] = "variants"
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict, description="name -> {dotted.key: value} "
                                                "overrides of data, model and train")
    reference: Optional[str] = Field(None, description="the row the others are compared with")
    settle: Optional[SettleSpec] = None

    @model_validator(mode="after")
    def _rows(self) -> VariantsOptions:
        if not self.variants:
            raise OptionError("variants", "name at least one variant: {name: {dotted.key: value, ...}}")
        if self.reference is not None and self.reference not in self.variants:
            raise OptionError("reference", f"{self.reference!r} is not a variant "
                                           f"(variants: {', '.join(self.variants)})")
        check_settle(self)
        return self


@register_design
class Variants(Design):
    name = "variants"
    options = VariantsOptions
    compares = True

    def reference(self, spec: StudySpec) -> str:
        return spec.search.reference or next(iter(spec.search.variants))

    def cells(self, spec: StudySpec) -> list[Cell]:
        variants = spec.search.variants
        reference = spec.search.reference
        order = [reference, *(name for name in variants if name != reference)] if reference else list(variants)
        return [Cell(name, dict(variants[name]), f"search.variants.{name}") for name in order]

    def expand(self, spec: StudySpec) -> list[TrialPlan]:
        plans = super().expand(spec)
        kept = {plan.label for plan in plans}
        for name in spec.search.variants:
            if name not in kept:  # it resolved to the configuration of a variant listed before it
                raise SpecError(f"search.variants.{name}: the same configuration as another variant; "
                                f"give it a change of its own or drop it")
        return plans

    def describe(self, spec: StudySpec, plans: Optional[list[TrialPlan]]) -> list[str]:
        rows = {plan.label: plan for plan in plans or []}
        seeds = spec.search.repeats
        lines = [f"{len(rows)} variants x {seeds} seeds = {len(plans or [])} trials"
                 + (f" (reference: {spec.search.reference})" if spec.search.reference else "")]
        width = max(map(len, rows), default=0)
        lines += [f"  {name:<{width}}  {plan.config_key}  {recipe_line(plan.config)}" for name, plan in rows.items()]
        return lines
