"""Bayesian linear regression (course Example 3.2), with its exact conjugate posterior."""

from __future__ import annotations

import numpy as np

from pgm_ppl.backend import dist, ops, pyro


def linear_regression(X, y=None, *, prior_scale: float = 1.0, noise_scale: float | None = None):
    r"""Bayesian linear regression, course Example 3.2.

    .. math::

        w \sim \mathcal N(0, \tau^2 I_d), \quad b \sim \mathcal N(0, \tau^2), \quad
        \sigma \sim \mathrm{HalfNormal}(1), \quad
        y_n \mid x_n \sim \mathcal N(x_n^\top w + b, \sigma^2), \quad n = 1..N,

    with :math:`\tau` = ``prior_scale``. With ``noise_scale`` given, :math:`\sigma` is fixed to it and the
    posterior is Gaussian in closed form (:func:`exact_posterior`).

    Parameters
    ----------
    X
        Inputs, shape (N, d).
    y
        Targets, shape (N,); None to sample them (prior predictive).
    prior_scale
        Prior standard deviation :math:`\tau` of the weights and intercept.
    noise_scale
        Known noise standard deviation, or None to infer :math:`\sigma`.
    """
    num_data, num_features = X.shape
    w = pyro.sample("w", dist.Normal(0.0, prior_scale).expand([num_features]).to_event(1))
    b = pyro.sample("b", dist.Normal(0.0, prior_scale))
    sigma = noise_scale if noise_scale is not None else pyro.sample("sigma", dist.HalfNormal(1.0))
    with pyro.plate("data", num_data):
        pyro.sample("y", dist.Normal(ops.matmul(X, w) + b, sigma), obs=y)


def exact_posterior(X: np.ndarray, y: np.ndarray, *, prior_scale: float = 1.0,
                    noise_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and covariance of the Gaussian posterior of :math:`(w, b)` when :math:`\sigma` is known.

    With the design :math:`\Phi = [X, 1]` and prior :math:`\mathcal N(0, \tau^2 I)` (course Example 3.2),

    .. math::

        \Sigma_N^{-1} = \tau^{-2} I + \Phi^\top \Phi / \sigma^2, \qquad
        m_N = \Sigma_N \Phi^\top y / \sigma^2.

    Returns
    -------
    mean : ndarray, shape (d + 1,)
        Posterior mean, weights first and the intercept last.
    cov : ndarray, shape (d + 1, d + 1)
        Posterior covariance.
    """
    design = np.column_stack([X, np.ones(len(X))])
    precision = np.eye(design.shape[1]) / prior_scale**2 + design.T @ design / noise_scale**2
    cov = np.linalg.inv(precision)
    mean = np.linalg.solve(precision, design.T @ y / noise_scale**2)
    return mean, cov
