"""A trial worker decodes its study's dataset once, however many trials it runs."""

from __future__ import annotations

import pytest

from orchestrator.run import trial

DATA = {"dataset": "synthetic", "root": None, "download": False,
        "options": {"num_classes": 4, "train_size": 64, "val_size": 16, "image_size": 8}}


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = trial.load_dataset

    def counted(name, **kwargs):
        calls.append(name)
        return real(name, **kwargs)

    trial._decoded.cache_clear()
    monkeypatch.setattr(trial, "load_dataset", counted)
    yield calls
    trial._decoded.cache_clear()


def test_trials_of_one_study_share_the_decoded_dataset(decodes) -> None:
    first = trial.dataset_for(DATA)
    again = trial.dataset_for({**DATA, "options": dict(reversed(DATA["options"].items()))})
    assert again is first and decodes == ["synthetic"]


def test_a_worker_keeps_one_dataset_at_a_time(decodes) -> None:
    other = {**DATA, "options": {**DATA["options"], "train_size": 32}}
    trial.dataset_for(DATA)
    trial.dataset_for(other)
    trial.dataset_for(DATA)
    assert len(decodes) == 3 and trial._decoded.cache_info().currsize == 1
