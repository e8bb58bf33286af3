"""ConvEncoder/ConvDecoder: shapes for 8x8 digits and 28x28 MNIST, closed-form parameter counts, errors."""

import re

import pytest
import torch
from torch import nn

from pgm_ppl.nn import ConvDecoder, ConvEncoder


@pytest.mark.parametrize(("image_shape", "feature_shape"), [((1, 8, 8), (32, 2, 2)), ((1, 28, 28), (32, 7, 7)),
                                                             ((3, 7, 5), (32, 2, 2))])
def test_shapes(image_shape, feature_shape):
    encoder = ConvEncoder(image_shape, out_features=6)
    decoder = ConvDecoder(3, image_shape)
    assert encoder.feature_shape == decoder.feature_shape == feature_shape
    x = torch.randn(4, *image_shape)
    assert encoder(x).shape == (4, 6)
    assert decoder(torch.randn(4, 3)).shape == (4, *image_shape)
    assert encoder.features(x).shape == (4, *feature_shape)


def test_encoder_parameter_count_closed_form():
    # conv 1->16 (3x3), conv 16->32 (3x3), linear 32*7*7 -> 10
    expected = (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32) + (32 * 7 * 7 * 10 + 10)
    assert sum(p.numel() for p in ConvEncoder((1, 28, 28), 10).parameters()) == expected


def test_decoder_mirrors_encoder_and_counts_parameters():
    decoder = ConvDecoder(2, (1, 8, 8), channels=(16, 32))
    convs = [m for m in decoder.features if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(32, 16), (16, 1)]
    assert isinstance(decoder.features[-1], nn.ConvTranspose2d)  # logits: no final activation
    expected = (2 * 32 * 2 * 2 + 32 * 2 * 2) + (32 * 16 * 9 + 16) + (16 * 1 * 9 + 1)
    assert sum(p.numel() for p in decoder.parameters()) == expected


def test_three_stages_and_activation():
    encoder = ConvEncoder((1, 28, 28), 4, channels=(8, 8, 8), activation="elu")
    assert encoder.feature_shape == (8, 4, 4)  # 28 -> 14 -> 7 -> 4
    assert sum(isinstance(m, nn.ELU) for m in encoder.features) == 3
    assert ConvDecoder(4, (1, 28, 28), channels=(8, 8, 8))(torch.zeros(2, 4)).shape == (2, 1, 28, 28)


def test_batch_elements_are_independent():
    torch.manual_seed(0)
    encoder, decoder = ConvEncoder((1, 8, 8), 5).double(), ConvDecoder(5, (1, 8, 8)).double()
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(encoder(x)[1], encoder(x[1:2])[0])
    z = torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(decoder(z)[2], decoder(z[2:3])[0])


def test_wrong_input_shape_is_named():
    with pytest.raises(ValueError, match=re.escape("ConvEncoder: expected input of shape (batch, 1, 8, 8), "
                                                   "got (4, 64).")):
        ConvEncoder((1, 8, 8), 2)(torch.zeros(4, 64))
    with pytest.raises(ValueError, match=re.escape("ConvDecoder: expected input of shape (batch, 3), got (4, 2).")):
        ConvDecoder(3, (1, 8, 8))(torch.zeros(4, 2))


def test_bad_arguments():
    with pytest.raises(ValueError, match=re.escape("image_shape: expected (channels, height, width), "
                                                   "e.g. (1, 28, 28), got (28, 28).")):
        ConvEncoder((28, 28), 2)
    with pytest.raises(ValueError, match=re.escape("channels: expected a non-empty sequence of integers, got ().")):
        ConvDecoder(2, (1, 8, 8), channels=())
    with pytest.raises(ValueError, match=re.escape("activation: expected one of")):
        ConvEncoder((1, 8, 8), 2, activation="swish")
