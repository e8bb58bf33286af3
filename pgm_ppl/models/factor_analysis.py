"""Bayesian factor analysis with a rotation-fixing constraint on the loadings (course syllabus, week 3)."""

from __future__ import annotations

import numpy as np

from pgm_ppl.backend import dist, ops, pyro
from pgm_ppl.backend.arrays import Array


def factor_analysis(x: Array, num_factors: int = 2, *, prior_scale: float = 1.0) -> None:
    r"""Bayesian factor analysis, with the latent factors integrated out.

    .. math::

        W_{ij} \sim \mathcal N(0, s^2)\ (i > j), \quad W_{jj} \sim \mathrm{HalfNormal}(s), \quad W_{ij} = 0\ (i < j),
        \quad \psi_i \sim \mathrm{HalfNormal}(1), \quad \mu \sim \mathcal N(0, I),

        z_n \sim \mathcal N(0, I_q), \quad x_n \mid z_n \sim \mathcal N(\mu + W z_n, \mathrm{diag}(\psi^2))
        \;\Longrightarrow\; x_n \sim \mathcal N(\mu, W W^\top + \mathrm{diag}(\psi^2)).

    The likelihood depends on :math:`W` only through :math:`W W^\top`, so :math:`W` is identified only up to
    a rotation :math:`W R`. A lower-triangular :math:`W` with a positive diagonal fixes the rotation (and the
    signs) -- the standard constraint of Bayesian factor analysis (Geweke and Zhou, 1996). The factors
    :math:`z_n` are integrated out, so the sampler sees only :math:`W, \psi, \mu`; the entries above the
    diagonal are drawn but multiplied by zero (their posterior is their prior).

    Parameters
    ----------
    x
        Data, shape (N, d); standardise the columns first.
    num_factors
        q, at most d.
    prior_scale
        Prior scale :math:`s` of the loadings.
    """
    num_data, num_features = x.shape
    strictly_lower = np.tril(np.ones((num_features, num_factors)), -1)
    diagonal = np.eye(num_features, num_factors)
    loadings = pyro.sample("loadings", dist.Normal(0.0, prior_scale).expand([num_features, num_factors]).to_event(2))
    positive = pyro.sample("loadings_diag", dist.HalfNormal(prior_scale).expand([num_factors]).to_event(1))
    W = pyro.deterministic("W", loadings * ops.asarray(strictly_lower) + ops.asarray(diagonal) * positive)
    psi = pyro.sample("psi", dist.HalfNormal(1.0).expand([num_features]).to_event(1))
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0).expand([num_features]).to_event(1))
    with pyro.plate("data", num_data):
        pyro.sample("x", dist.LowRankMultivariateNormal(mu, W, ops.square(psi)), obs=x)
