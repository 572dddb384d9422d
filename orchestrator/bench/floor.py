"""The floor side's trainable: a Tune trial that trains nothing.

It lives in its own module, not in ``sides`` (which runs as ``__main__``, whose functions Ray
sends by value and a worker runs without importing anything), so that each Tune worker imports
it by name and with it what every trial's worker of a sweep imports: torch, timm and the trainer.
The floor then pays the start-up a sweep's workers pay, and nothing else.
"""

from __future__ import annotations

from typing import Any

from ray import tune

from .. import train  # noqa: F401  imported for its cost alone: what every sweep worker imports


def report_once(config: dict[str, Any]) -> None:
    """One report, as a trial's last epoch would."""
    tune.report({"epoch": 1, "trial": config["trial"]})
