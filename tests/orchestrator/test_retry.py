"""Backoff through an outage: retried while transient, given up after the patience in time."""

from __future__ import annotations

import pytest

from orchestrator.errors import SpecError
from orchestrator.retry import Backoff, GaveUp, call_with_retry, patience_from_env


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(failures: int, error: Exception = ConnectionError("refused")):
    """A call that raises ``error`` ``failures`` times, then returns how often it was called."""
    calls = []

    def call() -> int:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return len(calls)

    return call


def test_a_transient_failure_is_retried_with_growing_delays_until_the_call_succeeds() -> None:
    time = FakeTime()
    result = call_with_retry(flaky(5), backoff=Backoff(patience=60, first=1, factor=2, longest=5),
                             transient=lambda e: isinstance(e, ConnectionError), what="server",
                             clock=time.clock, sleep=time.sleep)
    assert result == 6  # five failures waited out, the sixth call returned
    assert time.sleeps == [1, 2, 4, 5, 5]  # exponential, capped at `longest`


def test_a_service_away_past_the_patience_is_given_up_with_one_line_naming_it() -> None:
    time = FakeTime()
    with pytest.raises(GaveUp) as raised:
        call_with_retry(flaky(1000), backoff=Backoff(patience=20, first=1, factor=2, longest=8),
                        transient=lambda e: True, what="tracking store http://db:5000",
                        clock=time.clock, sleep=time.sleep)
    assert time.now == 20  # waited exactly the patience: the last delay is cut to fit it
    message = str(raised.value)
    assert "tracking store http://db:5000 unreachable for 20 s (ConnectionError: refused)" == message
    assert "\n" not in message and raised.value.exit_code == 75


def test_an_error_that_waiting_cannot_fix_is_raised_at_once() -> None:
    time = FakeTime()
    with pytest.raises(ValueError):
        call_with_retry(flaky(3, ValueError("bad request")), backoff=Backoff(patience=60),
                        transient=lambda e: isinstance(e, ConnectionError), what="server",
                        clock=time.clock, sleep=time.sleep)
    assert time.sleeps == []


def test_zero_patience_gives_up_at_the_first_failure() -> None:
    time = FakeTime()
    with pytest.raises(GaveUp):
        call_with_retry(flaky(1), backoff=Backoff(patience=0), transient=lambda e: True, what="server",
                        clock=time.clock, sleep=time.sleep)
    assert time.sleeps == []


@pytest.mark.parametrize(("value", "expected"), [(None, 300.0), ("", 300.0), ("45", 45.0), ("0", 0.0)])
def test_the_patience_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value, expected) -> None:
    if value is None:
        monkeypatch.delenv("SOME_PATIENCE", raising=False)
    else:
        monkeypatch.setenv("SOME_PATIENCE", value)
    assert patience_from_env("SOME_PATIENCE", 300.0) == expected


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_patience_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOME_PATIENCE", value)
    with pytest.raises(SpecError, match=f"SOME_PATIENCE={value!r}: expected a number of seconds >= 0"):
        patience_from_env("SOME_PATIENCE", 300.0)
