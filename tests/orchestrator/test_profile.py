"""Counting a model's MACs in place: no copy of the model, and the model given back as it was."""

from __future__ import annotations

import copy

import torch

from orchestrator.profile import profile_model


def test_counting_macs_in_place_gives_the_model_back_as_it_was() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).train()
    before = copy.deepcopy(model.state_dict())
    _, macs = profile_model(model, 8)
    assert model.training and macs == 3 * 4 * 9 * 36
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
