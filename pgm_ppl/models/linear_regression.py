"""Bayesian linear regression (course Example 3.2), with its exact conjugate posterior."""

from __future__ import annotations

import numpy as np

from pgm_ppl.backend import dist, ops, pyro
from pgm_ppl.backend.arrays import Array


def linear_regression(X: Array, y: Array | None = None, *, prior_scale: float = 1.0,
                      noise_scale: float | None = None) -> None:
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


def to_data_scale(draws: dict, x_mean: np.ndarray, x_scale: np.ndarray, y_mean: float,
                  y_scale: float) -> dict[str, np.ndarray]:
    r"""Draws of a regression fitted to standardised data, mapped to the data's own units.

    Fitting :math:`\tilde y = \tilde x^\top w + b + \varepsilon` to :math:`\tilde x_j = (x_j - m_j)/s_j` and
    :math:`\tilde y = (y - m_y)/s_y` is fitting :math:`y = x^\top w' + b' + \varepsilon'` with

    .. math::

        w'_j = w_j\, s_y / s_j, \qquad b' = m_y + s_y b - \textstyle\sum_j w'_j m_j, \qquad \sigma' = s_y \sigma,

    draw by draw (an affine map, so means, intervals and ESS carry over).

    Parameters
    ----------
    draws
        ``w`` with shape (..., d), ``b`` with shape (...) and, when inferred, ``sigma`` with shape (...).
    x_mean, x_scale
        The columns' means :math:`m_j` and divisors :math:`s_j`, shape (d,).
    y_mean, y_scale
        The response's mean :math:`m_y` and divisor :math:`s_y`.

    Returns
    -------
    dict
        ``w``, ``b`` and (when given) ``sigma`` in the data's units; other entries are left out.
    """
    w = np.asarray(draws["w"]) * (y_scale / np.asarray(x_scale))
    result = {"w": w, "b": y_mean + y_scale * np.asarray(draws["b"]) - w @ np.asarray(x_mean)}
    if "sigma" in draws:
        result["sigma"] = y_scale * np.asarray(draws["sigma"])
    return result
