r"""A small convolutional encoder and its mirror decoder for 1-channel images (course chapter 6).

Built for scikit-learn's 8x8 digits and 28x28 MNIST (any :math:`C \times H \times W` works). Each encoder
stage is a 3x3 convolution with stride 2 and padding 1 followed by the activation, so a side of length
:math:`n` becomes :math:`\lceil n/2 \rceil` (8 -> 4 -> 2, 28 -> 14 -> 7); a linear head maps the flattened
features to ``out_features``. The decoder runs the same shapes backwards with transposed convolutions, whose
``output_padding`` restores odd sides exactly, and returns logits (e.g. of Bernoulli pixels in a VAE).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pgm_ppl.core.validation import check_int
from pgm_ppl.nn.mlp import make_activation

__all__ = ["ConvDecoder", "ConvEncoder"]


def _check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """Return ``image_shape`` as a ``(channels, height, width)`` tuple of positive ints."""
    if not isinstance(image_shape, Sequence) or len(image_shape) != 3:
        raise ValueError(f"image_shape: expected (channels, height, width), e.g. (1, 28, 28), got {image_shape!r}.")
    c, h, w = (check_int(n, f"image_shape[{i}]") for i, n in enumerate(image_shape))
    return c, h, w


def _check_channels(channels: Sequence[int]) -> tuple[int, ...]:
    """Return the per-stage channel counts as a non-empty tuple of positive ints."""
    if not isinstance(channels, Sequence) or len(channels) == 0:
        raise ValueError(f"channels: expected a non-empty sequence of integers, got {channels!r}.")
    return tuple(check_int(c, f"channels[{i}]") for i, c in enumerate(channels))


def _spatial_sizes(height: int, width: int, num_stages: int) -> list[tuple[int, int]]:
    """Return the (height, width) before each stride-2 stage and after the last one."""
    sizes = [(height, width)]
    for _ in range(num_stages):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


def _check_input(x: torch.Tensor, expected: tuple[int, ...], owner: str) -> None:
    """Raise a ValueError naming ``owner`` if ``x`` is not ``(batch, *expected)``."""
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"{owner}: expected input of shape (batch, {', '.join(map(str, expected))}), "
                         f"got {tuple(x.shape)}.")


class ConvEncoder(nn.Module):
    r"""Convolutional encoder: stride-2 convolution stages, then a linear head.

    Stage :math:`s` maps :math:`c_{s-1} \times H_{s-1} \times W_{s-1}` to :math:`c_s \times \lceil H_{s-1}/2
    \rceil \times \lceil W_{s-1}/2 \rceil` by a 3x3 convolution (stride 2, padding 1) and the activation;
    the head is ``Linear(c_S * H_S * W_S, out_features)`` with no output activation.

    Parameters
    ----------
    image_shape
        ``(channels, height, width)`` of the input, e.g. ``(1, 8, 8)`` for digits, ``(1, 28, 28)`` for MNIST.
    out_features
        Size of the output (e.g. twice the latent size, for a Gaussian encoder's mean and log-scale).
    channels
        Channel counts :math:`c_1, \dots, c_S` of the stages.
    activation
        Name of the activation, one of :data:`~pgm_ppl.nn.ACTIVATIONS`.

    Notes
    -----
    Input ``(batch, channels, height, width)``; output ``(batch, out_features)``. ``feature_shape`` is the
    ``(c_S, H_S, W_S)`` shape before flattening: ``(32, 2, 2)`` for digits, ``(32, 7, 7)`` for MNIST.

    Raises
    ------
    ValueError
        For a bad shape, size or activation name; in ``forward``, for an input of another shape.

    Examples
    --------
    >>> import torch
    >>> encoder = ConvEncoder((1, 28, 28), out_features=10)
    >>> encoder.feature_shape
    (32, 7, 7)
    >>> encoder(torch.zeros(3, 1, 28, 28)).shape
    torch.Size([3, 10])
    """

    def __init__(self, image_shape: Sequence[int], out_features: int, channels: Sequence[int] = (16, 32),
                 activation: str = "relu") -> None:
        super().__init__()
        self.image_shape = _check_image_shape(image_shape)
        widths = (self.image_shape[0], *_check_channels(channels))
        make_activation(activation)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, kernel_size=3, stride=2, padding=1), make_activation(activation)]
        self.features = nn.Sequential(*layers)
        h, w = _spatial_sizes(*self.image_shape[1:], len(widths) - 1)[-1]
        self.feature_shape = (widths[-1], h, w)
        self.head = nn.Linear(widths[-1] * h * w, check_int(out_features, "out_features"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.image_shape, "ConvEncoder")
        return self.head(self.features(x).flatten(start_dim=1))


class ConvDecoder(nn.Module):
    r"""Convolutional decoder, the mirror of :class:`ConvEncoder`: linear layer, reshape, transposed convolutions.

    A linear layer and the activation map the input to :math:`c_S \times H_S \times W_S`; each stage then
    doubles the sides with a 3x3 transposed convolution (stride 2, padding 1, ``output_padding`` chosen to land
    on the encoder's sizes), with the activation between stages and none after the last, which has the image's
    channel count. The output is logits of the image's shape.

    Parameters
    ----------
    in_features
        Size of the input (e.g. the latent size of a VAE).
    image_shape
        ``(channels, height, width)`` of the output image.
    channels
        The encoder's channel counts :math:`c_1, \dots, c_S` (run here in reverse).
    activation
        Name of the activation, one of :data:`~pgm_ppl.nn.ACTIVATIONS`.

    Notes
    -----
    Input ``(batch, in_features)``; output ``(batch, channels, height, width)`` of logits.

    Raises
    ------
    ValueError
        For a bad shape, size or activation name; in ``forward``, for an input of another shape.

    Examples
    --------
    >>> import torch
    >>> decoder = ConvDecoder(in_features=2, image_shape=(1, 8, 8))
    >>> decoder(torch.zeros(3, 2)).shape
    torch.Size([3, 1, 8, 8])
    """

    def __init__(self, in_features: int, image_shape: Sequence[int], channels: Sequence[int] = (16, 32),
                 activation: str = "relu") -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features")
        self.image_shape = _check_image_shape(image_shape)
        widths = (self.image_shape[0], *_check_channels(channels))
        sizes = _spatial_sizes(*self.image_shape[1:], len(widths) - 1)
        self.feature_shape = (widths[-1], *sizes[-1])
        self.head = nn.Sequential(nn.Linear(self.in_features, widths[-1] * sizes[-1][0] * sizes[-1][1]),
                                  make_activation(activation))
        layers: list[nn.Module] = []
        for s in range(len(widths) - 1, 0, -1):  # stage s: sizes[s] -> sizes[s - 1], widths[s] -> widths[s - 1]
            (h_in, w_in), (h_out, w_out) = sizes[s], sizes[s - 1]
            padding = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))  # 0 for odd targets, 1 for even
            layers.append(nn.ConvTranspose2d(widths[s], widths[s - 1], kernel_size=3, stride=2, padding=1,
                                             output_padding=padding))
            if s > 1:
                layers.append(make_activation(activation))
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_input(z, (self.in_features,), "ConvDecoder")
        return self.features(self.head(z).unflatten(1, self.feature_shape))
