"""Deprecations: errors when raised in our own modules, ignored in third-party ones (pyproject)."""

from __future__ import annotations

import warnings

import pytest


@pytest.mark.parametrize("module", ["orchestrator.run.sweep", "models.resnet"])
def test_a_deprecation_in_our_code_fails_the_test(module: str) -> None:
    with pytest.raises(DeprecationWarning, match="going away"):
        warnings.warn_explicit("going away", DeprecationWarning, "x.py", 1, module=module)


def test_a_third_party_deprecation_is_ignored() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("default", category=UserWarning)  # leaves the DeprecationWarning filters as configured
        warnings.warn_explicit("going away", DeprecationWarning, "x.py", 1, module="mlflow.tracking")
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
