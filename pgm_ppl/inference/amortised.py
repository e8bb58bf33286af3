"""Amortised variational inference: an encoder network as the guide of a local-latent model, in Pyro
(the bridge from mean-field VI to the variational auto-encoder).

Instead of one pair :math:`(m_n, s_n)` per data point, the guide computes them from the data point,

.. math::
    q_\\phi(z_n \\mid x_n) = \\mathcal N\\big(z_n; \\mu_\\phi(x_n), \\mathrm{diag}\\,\\sigma_\\phi(x_n)^2\\big),

so the number of variational parameters does not grow with N and a new point's posterior costs one
forward pass. :func:`linear_gaussian_model` is a model whose exact posterior is known
(:func:`linear_gaussian_posterior`), to check what the encoder learns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from torch import nn


class GaussianEncoder(nn.Module):
    """MLP :math:`x \\mapsto (\\mu_\\phi(x), \\sigma_\\phi(x))`: ``hidden`` tanh layers (none: affine maps),
    then a linear head for the mean and a softplus head for the scale."""

    def __init__(self, data_dim: int, latent_dim: int, hidden: tuple[int, ...] = (32,)):
        super().__init__()
        sizes = (data_dim, *hidden)
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        self.loc = nn.Linear(sizes[-1], latent_dim)
        self.raw_scale = nn.Linear(sizes[-1], latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.loc(h), nn.functional.softplus(self.raw_scale(h)) + 1e-6


def linear_gaussian_model(x: torch.Tensor, W: torch.Tensor, noise_scale: float = 0.5,
                          num_data: int | None = None) -> None:
    """Local-latent linear-Gaussian model (probabilistic PCA with known loadings):
    :math:`z_n \\sim \\mathcal N(0, I_k)`, :math:`x_n \\mid z_n \\sim \\mathcal N(W z_n, \\sigma^2 I_d)`;
    ``num_data`` scales a mini-batch ``x`` to the full data set."""
    latent_dim = W.shape[1]
    with pyro.plate("data", num_data or len(x), subsample=torch.arange(len(x))):
        z = pyro.sample("z", dist.Normal(torch.zeros(latent_dim, dtype=x.dtype), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z @ W.T, noise_scale).to_event(1), obs=x)


def encoder_guide(encoder: GaussianEncoder, site: str = "z", plate: str = "data") -> Callable:
    """A guide for a model with a local latent ``site`` inside ``plate``, first argument the data:
    :math:`z_n \\sim q_\\phi(z_n \\mid x_n)` with the encoder's parameters registered in Pyro."""

    def guide(x: torch.Tensor, *args, num_data: int | None = None, **kwargs) -> None:
        pyro.module("encoder", encoder)
        loc, scale = encoder(x)
        with pyro.plate(plate, num_data or len(x), subsample=torch.arange(len(x))):
            pyro.sample(site, dist.Normal(loc, scale).to_event(1))

    return guide


class LinearGaussianPosterior(NamedTuple):
    """Exact :math:`p(z_n \\mid x_n) = \\mathcal N(\\Sigma W^\\top x_n / \\sigma^2, \\Sigma)` and the
    mean-field optimum's variances :math:`1/(\\Sigma^{-1})_{ii}`."""

    mean: np.ndarray
    cov: np.ndarray
    mean_field_variances: np.ndarray


def linear_gaussian_posterior(x: np.ndarray, W: np.ndarray, noise_scale: float) -> LinearGaussianPosterior:
    """:math:`\\Sigma = (I + W^\\top W/\\sigma^2)^{-1}`; a diagonal-Gaussian encoder can at best learn the
    exact means and the variances :math:`1/(\\Sigma^{-1})_{ii}` (mean field, course Example 3.6)."""
    precision = np.eye(W.shape[1]) + W.T @ W / noise_scale**2
    cov = np.linalg.inv(precision)
    return LinearGaussianPosterior(np.asarray(x) @ W @ cov / noise_scale**2, cov, 1 / np.diag(precision))
