"""``{loguniform: [a, b]}`` and friends: the spec's syntax for a sampled value, checked in one
place for its readers (Optuna's search space, PBT's mutations, the report's importances)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")
CONDITION_KEY = "when"  # beside a search axis's distribution: the earlier axes' values it needs


def parse_distribution(entry: Any, *, kinds: tuple[str, ...] = DISTRIBUTIONS,
                       ignore: tuple[str, ...] = ()) -> tuple[str, Any]:
    """``(kind, args)`` of a valid entry; a ValueError says what is wrong (the caller names the key).

    ``ignore`` lists keys that may sit beside the distribution (a search space's ``when:``).
    """
    if not isinstance(entry, dict):
        raise ValueError(f"expected one of {_allowed(kinds)}")
    found = [key for key in entry if key not in ignore]
    if len(found) != 1 or found[0] not in kinds:
        raise ValueError(f"expected one of {_allowed(kinds)}")
    kind, args = found[0], entry[found[0]]
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ValueError("choice takes a non-empty list of values")
        if not all(a is None or isinstance(a, (bool, int, float, str)) for a in args):
            raise ValueError("choice values must be null, booleans, numbers or strings")
        return kind, args
    if not (isinstance(args, list) and len(args) == 2 and all(isinstance(a, (int, float)) for a in args)):
        raise ValueError(f"{kind} takes [low, high] numbers")
    low, high = args
    if not low < high:
        raise ValueError(f"{kind} needs low < high, got [{low}, {high}]")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise ValueError(f"int takes integer bounds, got [{low}, {high}]")
    if kind == "loguniform" and low <= 0:
        raise ValueError(f"loguniform needs low > 0, got {low}")
    return kind, args


def _allowed(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"{{{kind}: ...}}" for kind in kinds)


def optuna_distribution(entry: Any) -> optuna.distributions.BaseDistribution:
    """A search axis's entry as Optuna's distribution; a ValueError says what is wrong."""
    import optuna  # here: PBT's readers of this module never need it

    kind, args = parse_distribution(entry, ignore=(CONDITION_KEY,))
    if kind == "choice":
        return optuna.distributions.CategoricalDistribution(args)
    low, high = args
    if kind == "int":
        return optuna.distributions.IntDistribution(int(low), int(high))
    return optuna.distributions.FloatDistribution(float(low), float(high), log=kind == "loguniform")
