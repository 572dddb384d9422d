"""The trial scheduler registry: each scheduler is its own options model, registered by name."""

from __future__ import annotations

from ..schema import PluginRegistry

DEFAULT_SCHEDULER = "asha"  # what ``search.scheduler`` without a name means
SCHEDULERS = PluginRegistry("scheduler")
register_scheduler = SCHEDULERS.register
