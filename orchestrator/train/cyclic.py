"""Smith's cyclical LR with the changes a seed made mid-run: cuts and restarts.

Seed 004 trains its DenseNet with ``CyclicLR(mode='triangular2')`` and, following its reference
[5], "takes 24 epochs as a boundary and sets the LR to 0.1 of the original", then settles on
"training 24 and 48 epochs". torch's ``CyclicLR`` cannot be cut or restarted mid-run (a second
scheduler on the same optimizer fights the first), so the whole curve is one function of the
step, run by ``LambdaLR``: the same triangle as ``CyclicLR`` (a test checks them equal), its
bounds multiplied by ``cut_factor`` from each cut on, and its cycle started over at each restart.
Being a function of the step alone, it resumes from a checkpoint exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("triangular", "triangular2", "exp_range")


@dataclass
class CyclicFactor:
    """One param group's LR at a scheduler step, as a factor of its initial LR (for LambdaLR)."""

    base: float
    peak: float
    initial: float
    half: int  # steps from the base to the peak
    mode: str = "triangular2"
    gamma: float = 1.0
    cuts: tuple[int, ...] = ()  # steps from which the bounds are multiplied by cut_factor once more
    cut_factor: float = 0.1
    restarts: tuple[int, ...] = ()  # steps at which the cycle starts over at full amplitude

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    def __call__(self, step: int) -> float:
        x = step - max((r for r in self.restarts if r <= step), default=0)
        cycle = math.floor(1 + x / (2 * self.half))
        amplitude = max(0.0, 1 - abs(x / self.half - 2 * cycle + 1)) * self._decay(cycle, x)
        lr = self.base + (self.peak - self.base) * amplitude
        return lr * self.cut_factor ** sum(step >= cut for cut in self.cuts) / self.initial

    def _decay(self, cycle: int, x: int) -> float:
        if self.mode == "triangular2":
            return 0.5 ** (cycle - 1)
        return self.gamma ** x if self.mode == "exp_range" else 1.0
