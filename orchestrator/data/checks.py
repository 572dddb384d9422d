"""Checks an augmentation op runs on its own options, in its constructor.

A spec is read into ops when it is validated, so a value refused here is one line naming the
option and what it allows (``option value; allowed: ...``), before anything runs; unchecked, a
string probability or a negative padding passes the constructor and fails at the first batch of
a running trial, and a probability of 2 or a negative hole size is taken without a word.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence


def refuse(option: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{option} {value!r}; allowed: {allowed}")


def is_number(value: Any) -> bool:
    """An int or a finite float; YAML's ``true`` is not a number here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _bounds(low: Optional[float], high: Optional[float], above: bool) -> str:
    if low is not None and high is not None:
        return f" above {low:g} and at most {high:g}" if above else f" from {low:g} to {high:g}"
    if low is not None:
        return f" above {low:g}" if above else f" {low:g} or more"
    return ""


def _within(value: float, low: Optional[float], high: Optional[float], above: bool) -> bool:
    return (low is None or (value > low if above else value >= low)) and (high is None or value <= high)


def whole(option: str, value: Any, *, low: int = 0) -> int:
    """A whole number ``low`` or more (``2.5``, ``"2"`` and ``true`` are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise refuse(option, value, f"a whole number {low} or more")
    return value


def number(option: str, value: Any, *, low: Optional[float] = None, high: Optional[float] = None,
           above: bool = False) -> float:
    """A number within [low, high] (above ``low`` where ``above``)."""
    if not is_number(value) or not _within(value, low, high, above):
        raise refuse(option, value, "a number" + _bounds(low, high, above))
    return float(value)


def probability(option: str, value: Any) -> float:
    return number(option, value, low=0, high=1)


def choice(option: str, value: Any, allowed: Sequence[str]) -> str:
    """One of ``allowed`` (a list or a number is refused by name, not as an unhashable key)."""
    if not isinstance(value, str) or value not in allowed:
        raise refuse(option, value, ", ".join(allowed))
    return value


def pair(option: str, value: Any, *, low: Optional[float] = None, high: Optional[float] = None,
         above: bool = False, ordered: bool = True, alone: str = "") -> tuple[float, float]:
    """Two numbers within [low, high], the first at most the second where ``ordered``.

    ``alone`` describes what a single number would have meant, for the message of a caller that
    also takes one.
    """
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(is_number(v) for v in value):
        first, second = float(value[0]), float(value[1])
        if _within(first, low, high, above) and _within(second, low, high, above) and (
                not ordered or first <= second):
            return first, second
    each = _bounds(low, high, above)
    shape = "[low, high], low <= high" if ordered else "of numbers"
    raise refuse(option, value, f"{alone}a pair {shape}{', each' + each if each else ''}")


def spread(option: str, value: Any, *, center: float = 0.0, low: Optional[float] = None,
           high: Optional[float] = None, clip: bool = False) -> tuple[float, float]:
    """torchvision's convention: a number ``v >= 0`` means (center - v, center + v), a pair is
    (low, high). The range must lie within [low, high] (give both or neither, or ``low`` with
    ``clip``, which raises a number's lower end to ``low``: ColorJitter's ``max(0, 1 - v)``)."""
    bounded = high is not None and low is not None
    alone = (f"a number from 0 to {high - center:g} (±it about {center:g}), or " if bounded else
             f"a number 0 or more (±it about {center:g}), or ")
    if is_number(value) and value >= 0:
        start, end = center - value, center + value
        start = max(start, low) if clip and low is not None else start
        if _within(start, low, high, False) and _within(end, low, high, False):
            return start, end
    return pair(option, value, low=low, high=high, alone=alone)
