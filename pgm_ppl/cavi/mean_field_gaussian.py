"""Mean-field Gaussian approximation of a correlated Gaussian (course Example 3.6, Fig. 3.10).

For :math:`p = \\mathcal N(\\mu, \\Sigma)` with precision :math:`P = \\Sigma^{-1}`, the CAVI update (3.13)
of :math:`q_i(z_i)` is Gaussian with

.. math::
    m_i = \\mu_i - P_{ii}^{-1}\\sum_{j \\ne i} P_{ij}(m_j - \\mu_j), \\qquad s_i^2 = 1/P_{ii},

so the fixed point is :math:`m = \\mu` and :math:`s_i^2 = 1/(\\Sigma^{-1})_{ii} \\le \\Sigma_{ii}`; in 2-D,
:math:`s_i^2 = \\sigma_{ii}(1 - \\rho^2)`: mean field under-estimates marginal variances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# gaussian_kl is re-exported by pgm_ppl.cavi
from pgm_ppl.core.linalg import cholesky, gaussian_kl, log_det_from_cholesky  # noqa: F401


@dataclass(frozen=True, slots=True)
class MeanFieldGaussian:
    """Factor means ``mean`` (d,), factor ``variances`` (d,) and :math:`\\mathrm{KL}(q\\|p)` after every
    CAVI sweep (``kl``, non-increasing)."""

    mean: np.ndarray
    variances: np.ndarray
    kl: np.ndarray


def mean_field_gaussian(mean: np.ndarray, cov: np.ndarray, *, init: np.ndarray | None = None,
                        num_sweeps: int = 200) -> MeanFieldGaussian:
    """CAVI for the mean-field approximation of :math:`\\mathcal N(\\mu, \\Sigma)`, one coordinate at a
    time (systematic sweeps from ``init``, default zeros), recording :math:`\\mathrm{KL}(q\\|p)`."""
    mean, cov = np.asarray(mean, dtype=np.float64), np.asarray(cov, dtype=np.float64)
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape {(d, d)} to match mean, got {cov.shape}.")
    L = cholesky(cov, name="cov", fix="pass a symmetric positive-definite covariance")
    L_inv = np.linalg.inv(L)
    precision = L_inv.T @ L_inv
    variances = 1.0 / np.diag(precision)
    # KL(q || p) of course eq. (1.38) (pgm_ppl.core.linalg.gaussian_kl) with q = N(m, diag(s^2)) and s_i^2 = 1/P_ii,
    # so tr(P S_q) = d: only the Mahalanobis term changes from sweep to sweep, and the factorisation is done once
    constant = 0.5 * (log_det_from_cholesky(L) - np.sum(np.log(variances)))
    m = np.zeros(d) if init is None else np.array(init, dtype=np.float64)
    kl = []
    for _ in range(num_sweeps):
        for i in range(d):
            m[i] = mean[i] - (precision[i] @ (m - mean) - precision[i, i] * (m[i] - mean[i])) / precision[i, i]
        gap = m - mean
        kl.append(float(constant + 0.5 * gap @ precision @ gap))
    return MeanFieldGaussian(m, variances, np.array(kl))
