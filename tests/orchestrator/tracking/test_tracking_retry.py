"""The driver's MLflow client through an outage of the tracking store."""

from __future__ import annotations

import socket

import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE
from mlflow.tracking import MlflowClient

from orchestrator.retry import Backoff, GaveUp
from orchestrator.tracking.retry import RetryingClient, TrackingUnavailable, transient
from orchestrator.tracking.write_queue import WriteQueue

REFUSED = MlflowException("API request to http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch failed with "
                          "exception HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded")


class FlakyClient:
    """An MLflow client whose ``log_batch`` fails ``failures`` times, recording every call."""

    tracking_uri = "http://127.0.0.1:5000"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple] = []

    def log_batch(self, run_id: str, metrics: list[Metric]) -> None:
        self.calls.append((run_id, metrics))
        if len(self.calls) <= self.failures:
            raise REFUSED


def client_over(fake: FlakyClient, patience: float) -> RetryingClient:
    return RetryingClient(fake, fake.tracking_uri, backoff=Backoff(patience=patience, first=0.01, longest=0.02),
                          on_wait=None)


def test_a_write_is_retried_with_the_same_entities_until_the_store_is_back() -> None:
    fake = FlakyClient(failures=3)
    metrics = [Metric("val/top1", 50.0, 1234, 3)]
    client_over(fake, patience=30).log_batch("run", metrics=metrics)
    assert len(fake.calls) == 4
    # The same Metric objects each time (one timestamp): MLflow's store keeps one row of them.
    assert all(call[1] is metrics for call in fake.calls)


def test_after_giving_up_every_later_call_gives_up_at_once() -> None:
    fake = FlakyClient(failures=10**6)
    client = client_over(fake, patience=0.05)
    with pytest.raises(TrackingUnavailable, match=r"^tracking store http://127.0.0.1:5000 unreachable for 0 s"):
        client.log_batch("run", metrics=[])
    tried = len(fake.calls)
    with pytest.raises(TrackingUnavailable):
        client.log_batch("run", metrics=[])
    assert len(fake.calls) == tried  # not sent again: the sweep is stopping
    assert client.tracking_uri == fake.tracking_uri  # plain attributes pass through


@pytest.mark.parametrize(("error", "expected"), [
    (REFUSED, True),
    (MlflowException("db locked", error_code=TEMPORARILY_UNAVAILABLE), True),  # a SQL store's OperationalError
    (MlflowException("API request to endpoint /x failed with error code 502 != 200. Response body: '<html>'"), True),
    (ConnectionResetError("reset"), True),
    (MlflowException("Run 'x' not found", error_code=RESOURCE_DOES_NOT_EXIST), False),
    (MlflowException("API request to endpoint /x failed with error code 500 != 200. Response body: 'bug'"), False),
    (ValueError("bad metric"), False),
])
def test_only_errors_of_an_absent_store_are_transient(error: BaseException, expected: bool) -> None:
    assert transient(error) is expected


def test_a_real_client_against_a_closed_port_gives_up_naming_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries: not waited for here
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    uri = f"http://admin:secret@127.0.0.1:{port}"
    client = RetryingClient(MlflowClient(tracking_uri=uri), uri, backoff=Backoff(patience=0.3, first=0.1),
                            on_wait=None)
    with pytest.raises(TrackingUnavailable) as raised:
        client.search_experiments(max_results=1)
    assert str(raised.value).startswith(f"tracking store http://admin:***@127.0.0.1:{port} unreachable for")
    assert "secret" not in str(raised.value)


def gives_up() -> None:
    raise GaveUp("tracking store x unreachable for 300 s")


def test_the_write_queue_refuses_new_writes_once_one_gave_up() -> None:
    queue = WriteQueue()
    queue.put(gives_up)
    queue.drain()
    with pytest.raises(GaveUp):
        queue.put(lambda: None)


def test_a_write_queue_whose_store_gave_up_keeps_saying_so() -> None:
    # The sweep's last steps (closing runs, its note) must not reach for a store that is gone:
    # each check raises the same one line again.
    queue = WriteQueue()
    queue.put(gives_up)
    with pytest.raises(GaveUp):
        queue.flush()
    with pytest.raises(GaveUp):
        queue.check()
