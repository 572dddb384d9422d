"""A sweep shuts down the Ray it started, and leaves alone one that was running before it."""

from __future__ import annotations

import contextlib

import pytest

from orchestrator.run import cluster


class FakeRay:
    """Ray's connection state, as the sweep reads and changes it."""

    def __init__(self, connected: bool) -> None:
        self.connected = connected
        self.shutdowns = 0

    def is_initialized(self) -> bool:
        return self.connected

    def shutdown(self) -> None:
        self.connected = False
        self.shutdowns += 1


@pytest.mark.parametrize("fails", [False, True])
def test_a_ray_started_inside_the_sweep_is_shut_down_when_it_ends(monkeypatch, fails: bool) -> None:
    ray = FakeRay(connected=False)
    monkeypatch.setattr(cluster, "ray", ray)
    with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
        with cluster.ray_stopped_at_end():
            ray.connected = True  # connect_ray
            if fails:
                raise RuntimeError("a trial's error")
    assert (ray.connected, ray.shutdowns) == (False, 1)


def test_a_ray_connected_before_the_sweep_is_left_running(monkeypatch) -> None:
    ray = FakeRay(connected=True)
    monkeypatch.setattr(cluster, "ray", ray)
    with cluster.ray_stopped_at_end():
        pass
    assert (ray.connected, ray.shutdowns) == (True, 0)
