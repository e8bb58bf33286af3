r"""Autoencoders and the networks-as-likelihoods classifiers of course chapter 6 (§§6.1-6.2, Remarks 6.5-6.7).

**Autoencoder** (row 6.8): an encoder :math:`f_\theta: \mathbb R^D \to \mathbb R^m` and a decoder
:math:`g_\phi: \mathbb R^m \to \mathbb R^D` trained to reconstruct, :math:`\min \frac1N \sum_n
\ell(x_n, g_\phi(f_\theta(x_n)))` with the squared error or the Bernoulli cross-entropy. It is *not* a
generative model (Remark 6.7): nothing says how codes are distributed, so it has no density and no sampler.
With linear maps and the squared error, its optimal decoder spans the top-:math:`m` principal subspace
(Remark 6.5; Baldi & Hornik 1989), though not with orthonormal principal axes.

**Classifier** (rows 6.3, 6.6; Example 6.1): an MLP or a small CNN whose softmax output is a categorical
likelihood, trained on the negative log-likelihood :math:`J(\theta) = -\frac1N\sum_n \log p_\theta(y_n \mid x_n)`
(6.3), i.e. the cross-entropy. Batches are the engine's ``(x, y)`` tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int
from pgm_ppl.nn import MLP, ConvEncoder

__all__ = ["Autoencoder", "Classifier", "autoencoder", "classifier"]

RECONSTRUCTIONS = ("squared", "bernoulli")


class Autoencoder(nn.Module):
    """Encoder and decoder with a reconstruction ``loss(batch)`` (per-row mean, summed over pixels)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, reconstruction: str) -> None:
        super().__init__()
        self.encoder, self.decoder, self.reconstruction = encoder, decoder, reconstruction

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code :math:`f_\\theta(x)`, shape (n, m)."""
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`g_\\phi(f_\\theta(x))` (pixel probabilities for the Bernoulli loss), shape (n, D)."""
        out = self.decoder(self.encoder(x))
        return torch.sigmoid(out) if self.reconstruction == "bernoulli" else out

    def loss(self, batch: Any) -> torch.Tensor:
        """Squared error :math:`\\|x - g(f(x))\\|^2` or Bernoulli cross-entropy, summed over pixels, batch mean."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        out = self.decoder(self.encoder(x))
        if self.reconstruction == "bernoulli":
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1).mean()
        return ((out - x) ** 2).sum(-1).mean()


def autoencoder(features: int, *, code_features: int = 2, hidden_features: Sequence[int] | int = (),
                activation: str = "relu", reconstruction: str = "squared", seed: int = 0) -> Autoencoder:
    """An MLP autoencoder ``D -> hidden -> m -> reversed hidden -> D``; ``hidden_features=()`` is the linear one.

    Parameters
    ----------
    features, code_features
        D and the code size m.
    hidden_features, activation
        The encoder's hidden widths (the decoder's reversed) and activation (:class:`pgm_ppl.nn.MLP`).
    reconstruction
        ``"squared"`` (Gaussian-likelihood reading) or ``"bernoulli"`` (binary pixels; logits out).
    seed
        Seeds the initial weights.
    """
    D, m = check_int(features, "features"), check_int(code_features, "code_features")
    check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
    widths = (hidden_features,) if isinstance(hidden_features, int) else tuple(hidden_features)
    with torch_seeded(seed):
        return Autoencoder(MLP(D, m, widths, activation=activation), MLP(m, D, widths[::-1], activation=activation),
                           reconstruction)


class Classifier(nn.Module):
    """A network with a softmax output: ``loss((x, y))`` is the categorical NLL (6.3) per row."""

    def __init__(self, net: nn.Module, image_shape: tuple[int, ...] | None) -> None:
        super().__init__()
        self.net, self.image_shape = net, image_shape

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (n, C); the softmax of them is :math:`p_\\theta(y \\mid x)`."""
        return self.net(x if self.image_shape is None else x.reshape(-1, *self.image_shape))

    def log_prob_labels(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p_\\theta(y_n \\mid x_n)` per row, shape (n,)."""
        return -F.cross_entropy(self.logits(x), y.long().reshape(-1), reduction="none")

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class per row."""
        return self.logits(x).argmax(-1)

    def loss(self, batch: Any) -> torch.Tensor:
        """:math:`-\\frac1n\\sum_n \\log p_\\theta(y_n \\mid x_n)` on a batch ``(x, y)`` (the engine's tuples)."""
        if not isinstance(batch, (tuple, list)):
            raise TypeError("batch: expected (x, y) (train with data=(X, y)), got a single array.")
        x, y = batch
        return -self.log_prob_labels(x, y).mean()


def classifier(features: int, num_classes: int, *, architecture: str = "mlp",
               hidden_features: Sequence[int] | int = (256, 256), activation: str = "relu",
               image_shape: Sequence[int] = (1, 8, 8), channels: Sequence[int] = (16, 32), seed: int = 0) -> Classifier:
    """Example 6.1's classifiers: an MLP (``"mlp"``) or a CNN (``"cnn"``: :class:`pgm_ppl.nn.ConvEncoder` with a
    linear head to ``num_classes`` logits on ``image_shape`` images)."""
    D, C = check_int(features, "features"), check_int(num_classes, "num_classes", minimum=2)
    check_choice(architecture, "architecture", ("mlp", "cnn"))
    with torch_seeded(seed):
        if architecture == "mlp":
            return Classifier(MLP(D, C, hidden_features, activation=activation), None)
        return Classifier(ConvEncoder(tuple(image_shape), C, channels=channels, activation=activation),
                          tuple(image_shape))
