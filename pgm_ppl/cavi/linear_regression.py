"""CAVI for Bayesian linear regression with unknown noise precision (course Example 3.2; Bishop §10.3).

Model: :math:`w \\sim \\mathcal N(0, \\alpha^{-1} I)`, :math:`\\tau \\sim \\mathrm{Gamma}(a_0, b_0)`,
:math:`y_n \\mid w, \\tau \\sim \\mathcal N(x_n^\\top w, \\tau^{-1})`. Mean field
:math:`q(w)\\,q(\\tau) = \\mathcal N(w; m, S)\\,\\mathrm{Gamma}(\\tau; a, b)` with updates (3.13)

.. math::
    S = (\\alpha I + \\mathbb E[\\tau] X^\\top X)^{-1}, \\quad m = \\mathbb E[\\tau]\\, S X^\\top y, \\quad
    a = a_0 + N/2, \\quad b = b_0 + \\tfrac12\\big(\\|y - Xm\\|^2 + \\mathrm{tr}(X^\\top X S)\\big).

With ``noise_precision`` fixed, :math:`q(w)` is the exact posterior (course Example 3.2).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from pgm_ppl.core.result import Fit


class BLRResult(NamedTuple):
    """:math:`q(w) = \\mathcal N(m, S)`, :math:`q(\\tau) = \\mathrm{Gamma}(a, b)` (rate b) and the ELBO trace."""

    m: np.ndarray
    S: np.ndarray
    a: float
    b: float
    elbo: np.ndarray

    def to_fit(self, num_samples: int = 1000, seed: int = 0) -> Fit:
        """Draws of ``w`` from :math:`q(w)` and of ``tau`` from :math:`q(\\tau)` (absent when
        :math:`\\tau` was fixed) as a one-chain :class:`Fit` (``method="cavi"``) for ArviZ."""
        rng = np.random.default_rng(seed)
        posterior = {"w": rng.multivariate_normal(self.m, self.S, size=num_samples)[None]}
        dims = {"w": ["feature"]}
        if np.isfinite(self.a):
            posterior["tau"] = rng.gamma(self.a, 1.0 / self.b, size=num_samples)[None]
            dims["tau"] = []
        return Fit(method="cavi", backend="numpy", model=fit_linear_regression, args=(), kwargs={},
                   posterior=posterior, dims=dims, losses=-self.elbo,
                   params={"m": self.m, "S": self.S, "a": np.asarray(self.a), "b": np.asarray(self.b)})


def fit_linear_regression(X: np.ndarray, y: np.ndarray, *, prior_precision: float = 1.0, a0: float = 1e-2,
                          b0: float = 1e-2, noise_precision: float | None = None, num_steps: int = 100,
                          tol: float = 1e-10) -> BLRResult:
    """Run CAVI until the ELBO rises by less than ``tol``; ``noise_precision`` fixes :math:`\\tau`."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, d) and y (N,), got {X.shape} and {y.shape}.")
    N, d = X.shape
    XtX, Xty = X.T @ X, X.T @ y
    a, b = (a0 + 0.5 * N, b0 + 0.5 * N) if noise_precision is None else (np.inf, np.nan)
    trace = []
    for _ in range(num_steps):
        e_tau = a / b if noise_precision is None else noise_precision
        S = np.linalg.inv(prior_precision * np.eye(d) + e_tau * XtX)
        m = e_tau * S @ Xty
        resid = np.sum((y - X @ m) ** 2) + np.trace(XtX @ S)
        if noise_precision is None:
            b = b0 + 0.5 * resid
        trace.append(_elbo(m, S, a, b, resid, N, prior_precision, a0, b0, noise_precision))
        if noise_precision is not None or (len(trace) > 1 and trace[-1] - trace[-2] < tol):
            break
    return BLRResult(m, S, float(a), float(b), np.array(trace))


def _elbo(m, S, a, b, resid, N, alpha, a0, b0, fixed) -> float:
    d = len(m)
    if fixed is None:
        e_tau, e_log_tau = a / b, digamma(a) - np.log(b)
    else:
        e_tau, e_log_tau = fixed, np.log(fixed)
    lik = 0.5 * N * (e_log_tau - np.log(2 * np.pi)) - 0.5 * e_tau * resid
    prior_w = 0.5 * d * np.log(alpha / (2 * np.pi)) - 0.5 * alpha * (m @ m + np.trace(S))
    entropy_w = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * S)[1]
    value = lik + prior_w + entropy_w
    if fixed is None:
        prior_tau = a0 * np.log(b0) - gammaln(a0) + (a0 - 1) * e_log_tau - b0 * e_tau
        entropy_tau = a - np.log(b) + gammaln(a) + (1 - a) * digamma(a)
        value += prior_tau + entropy_tau
    return float(value)
