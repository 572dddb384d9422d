"""The seed-004 autoencoder: reconstruction for pre-training, logits for fine-tuning."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import models


def test_encode_decode_reconstruct_shapes() -> None:
    model = models.create_model("autoencoder_tin", num_classes=200)
    x = torch.randn(2, 3, 64, 64)
    z = model.encode(x)
    assert z.shape == (2, 256, 4, 4)
    assert model.decode(z).shape == x.shape
    assert model.reconstruct(x).shape == x.shape
    assert model(x).shape == (2, 200)


def test_reconstruct_matches_inputs_whose_side_is_not_a_multiple_of_16() -> None:
    model = models.create_model("autoencoder_tin").eval()
    x = torch.randn(1, 3, 56, 56)  # the seed's random 56px crops
    assert model.reconstruct(x).shape == x.shape


def test_reconstruction_can_be_signed() -> None:
    # Normalised images are signed; the decoder's last unit has no final ReLU.
    model = models.create_model("autoencoder_tin").eval()
    with torch.no_grad():
        assert model.reconstruct(torch.randn(2, 3, 64, 64)).min() < 0


def test_pretraining_trains_encoder_and_decoder_not_the_classifier() -> None:
    model = models.create_model("autoencoder_tin")
    x = torch.randn(2, 3, 64, 64)
    F.mse_loss(model.reconstruct(x), x).backward()
    assert all(p.grad is not None for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    assert all(p.grad is None for p in model.get_classifier().parameters())
