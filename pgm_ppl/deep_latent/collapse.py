r"""Posterior-collapse diagnostics of a trained VAE: KL per latent dimension, active units, mutual information.

A VAE's KL term averaged over the data decomposes (Hoffman & Johnson 2016) as

.. math::

    \mathbb E_{p_d(x)}\,\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))
    = I_q(x; z) + \mathrm{KL}(q_\phi(z) \,\|\, p(z)), \qquad q_\phi(z) = \tfrac1N \textstyle\sum_n q_\phi(z \mid x_n),

so the KL a VAE pays is the information its code carries about :math:`x` plus the mismatch of the aggregate
posterior with the prior. A latent dimension has *collapsed* when its posterior equals the prior for every
:math:`x`: its KL (6.15) is zero and its encoder mean does not vary with :math:`x`. Burda et al. (2016) call
dimension :math:`u` **active** when :math:`A_u = \mathrm{Var}_{x}\big(\mathbb E_{q(z \mid x)}[z_u]\big) > 0.01`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_data, check_int, check_positive

__all__ = ["CollapseDiagnostics", "collapse_diagnostics"]


class CollapseDiagnostics(NamedTuple):
    """What :func:`collapse_diagnostics` measures (nats; per data row where averaged).

    ``kl_per_dimension`` (L,): :math:`\\mathbb E_x \\mathrm{KL}(q(z_u \\mid x) \\| \\mathcal N(0, 1))` by (6.15);
    ``total_kl``: their sum; ``encoder_mean_variance`` (L,): :math:`A_u`; ``active`` (L,) bool:
    :math:`A_u >` ``threshold``; ``num_active``; ``mutual_information``: :math:`I_q(x; z)` (Monte Carlo, at
    most :math:`\\log N`); ``aggregate_kl``: ``total_kl - mutual_information``, the estimate of
    :math:`\\mathrm{KL}(q(z) \\| p(z))`."""

    kl_per_dimension: np.ndarray
    total_kl: float
    encoder_mean_variance: np.ndarray
    active: np.ndarray
    num_active: int
    mutual_information: float
    aggregate_kl: float


@torch.no_grad()
def collapse_diagnostics(module: Any, X: Any, *, threshold: float = 0.01, num_samples: int = 1,
                         seed: int = 0) -> CollapseDiagnostics:
    r"""KL per latent dimension, active units (Burda et al. 2016) and :math:`I_q(x; z)` of a trained VAE.

    The mutual information is the Monte Carlo estimate over the N rows of ``X``

    .. math::

        \hat I = \frac1{NS} \sum_{n,s} \Big[\log q(z_{ns} \mid x_n)
                 - \log \frac1N \sum_m q(z_{ns} \mid x_m)\Big], \qquad z_{ns} \sim q(\cdot \mid x_n),

    which uses an :math:`N \times N` matrix of encoder densities per draw (fine for thousands of rows).

    Parameters
    ----------
    module
        A :class:`~pgm_ppl.deep_latent.VAE` (unconditional).
    X
        Data rows, shape (N, D) (the training or held-out set).
    threshold
        Activity threshold on :math:`A_u` (0.01 in Burda et al.).
    num_samples
        S, draws of :math:`z` per row in the mutual-information estimate.
    seed
        Seeds those draws.

    Returns
    -------
    CollapseDiagnostics
    """
    X = check_data(X, "X")
    threshold = check_positive(threshold, "threshold", allow_zero=True)
    S = check_int(num_samples, "num_samples")
    dtype = next(module.parameters()).dtype
    x = torch.as_tensor(X, dtype=dtype)
    was_training = module.training
    module.eval()
    try:
        loc, scale = module.encode(x)
        kl = 0.5 * (loc ** 2 + scale ** 2 - 2 * torch.log(scale) - 1)  # (6.15) per dimension
        A = loc.var(0, unbiased=True)
        q = torch.distributions.Normal(loc.to(torch.float64), scale.to(torch.float64))
        N = x.shape[0]
        total = 0.0
        with torch_seeded(seed):
            for _ in range(S):
                z = q.sample()  # (N, L)
                log_q_all = q.log_prob(z[:, None, :]).sum(-1)  # (N, M): log q(z_n | x_m)
                total += float((log_q_all.diagonal() - (torch.logsumexp(log_q_all, 1) - math.log(N))).mean())
    finally:
        module.train(was_training)
    kl_dim = kl.mean(0).to(torch.float64).numpy()
    A = A.to(torch.float64).numpy()
    mi = total / S
    return CollapseDiagnostics(kl_dim, float(kl_dim.sum()), A, A > threshold, int((A > threshold).sum()), mi,
                               float(kl_dim.sum()) - mi)
