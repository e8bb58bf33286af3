r"""Closed-form conjugate updates that several engines share, written once.

- :func:`gaussian_linear_posterior`: the weight posterior and evidence of Bayesian linear regression with a
  known noise *variance* (course §4.3, eqs. (4.17)-(4.19)); ``gp.blr_posterior`` is it, and the CAVI
  linear regression's :math:`q(w)` update is it with the noise variance :math:`1/\mathbb E[\tau]`.
- :func:`normal_wishart_update` and :func:`expected_log_gaussian`: the Normal-Wishart factor update and
  the expected Gaussian log-density of mean-field mixtures (Bishop §10.2, eqs. (10.60)-(10.64)), shared by the
  CAVI Bayesian mixture (``cavi.bayesian_gmm``) and the truncated DP mixture (``dp.cavi``).
- :func:`empirical_covariance_prior`: scikit-learn's default Wishart scale :math:`W_0^{-1}` (the sample
  covariance), its directions without variance floored at the data's scale so that a constant column still gives a
  proper prior and a finite bound, plus the ``reg_covar`` ridge of the prior's pseudo-observations, so that the bound
  never falls on constant data.

All factorisations go through :func:`pgm_ppl.core.linalg.cholesky`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.special import digamma, gammaln

from pgm_ppl.core.linalg import ROUNDING_JITTER, cholesky, log_det_from_cholesky

__all__ = ["GaussianLinearPosterior", "NormalWishartFactors", "empirical_covariance_prior", "expected_log_gaussian",
           "gaussian_linear_posterior", "log_wishart_normaliser", "normal_wishart_update"]


class GaussianLinearPosterior(NamedTuple):
    """Weight posterior ``mean`` :math:`\\mu` (m,), ``covariance`` :math:`\\Sigma` (m, m) and the evidence
    ``log_evidence`` :math:`\\log p(y \\mid \\Phi)`."""

    mean: np.ndarray
    covariance: np.ndarray
    log_evidence: float


def gaussian_linear_posterior(Phi: np.ndarray, y: np.ndarray, prior_cov: np.ndarray,
                              noise_variance: float) -> GaussianLinearPosterior:
    r"""Posterior of :math:`w` for :math:`y = \Phi w + \epsilon`, :math:`w \sim \mathcal N(0, \Sigma_w)`,
    :math:`\epsilon \sim \mathcal N(0, \sigma^2 I)`, and the evidence (course eqs. (4.17)-(4.19)).

    .. math::
        \Sigma = (\Sigma_w^{-1} + \Phi^\top\Phi/\sigma^2)^{-1}, \qquad \mu = \Sigma\Phi^\top y/\sigma^2,

    with ``noise_variance`` :math:`\sigma^2` (a variance, not a standard deviation or a precision). The
    evidence uses the determinant lemma and Woodbury identity, :math:`O(m^3 + Nm^2)`:
    :math:`\log|\Phi\Sigma_w\Phi^\top+\sigma^2I| = \log|\Sigma_w| - \log|\Sigma| + N\log\sigma^2`. Inputs are
    trusted (the callers validate them).
    """
    n, m = Phi.shape
    Lw = cholesky(prior_cov, name="prior_cov", fix="pass a symmetric positive-definite prior covariance")
    prior_precision = cho_solve((Lw, True), np.eye(m))
    precision = prior_precision + Phi.T @ Phi / noise_variance
    Lp = cholesky(precision, name="posterior precision", fix="increase noise_variance or the prior covariance",
                  max_jitter=ROUNDING_JITTER)
    cov = cho_solve((Lp, True), np.eye(m))
    b = Phi.T @ y / noise_variance
    mean = cov @ b
    log_det_C = log_det_from_cholesky(Lw) + log_det_from_cholesky(Lp) + n * np.log(noise_variance)
    quad = y @ y / noise_variance - b @ mean  # y^T C^{-1} y by Woodbury
    return GaussianLinearPosterior(mean, cov, float(-0.5 * (quad + log_det_C + n * np.log(2 * np.pi))))


def empirical_covariance_prior(X: np.ndarray, *, dof: float | None = None, reg_covar: float = 0.0) -> np.ndarray:
    r"""scikit-learn's default :math:`W_0^{-1}`, the sample covariance :math:`\widehat\Sigma` of ``X`` (N >= 2),
    made proper at the data's scale and consistent with the ``reg_covar`` ridge of the updates:

    .. math::
        W_0^{-1} = \widehat\Sigma + \sum_i \max(0,\ f - \lambda_i)\, v_i v_i^\top + \nu_0\,\varepsilon\, I,

    with :math:`(\lambda_i, v_i)` the eigenpairs of :math:`\widehat\Sigma`, :math:`\nu_0` = ``dof`` (default d,
    scikit-learn's) and :math:`\varepsilon` = ``reg_covar``.

    - The floor :math:`f = \sqrt\epsilon\,\lambda_{\max}` (:math:`\epsilon` float64's machine epsilon) lifts only
      the directions in which the data do not vary (a constant or collinear column): there the sample covariance is
      singular, the Wishart prior improper and the ELBO :math:`-\infty`, and a floor at the scatter's rounding
      level (:math:`\sim N\epsilon\lambda_{\max}`) would leave the factors' Cholesky factors dominated by
      rounding (covariances with negative eigenvalues, an oscillating bound). A covariance whose eigenvalues are all
      above :math:`f` is returned unchanged. All-constant data have no spread: then
      :math:`f = d\,\epsilon\, s` with :math:`s` the mean squared value (1 for all-zero data).
    - The ridge :math:`\nu_0\varepsilon`: the updates add :math:`N_k\varepsilon I` to each component's scatter
      (:func:`normal_wishart_update`, as scikit-learn's ``reg_covar``), i.e. :math:`\varepsilon` per observation;
      the prior's :math:`\nu_0` pseudo-observations get the same. Then where the data do not vary,
      :math:`W_k^{-1} \approx \nu_k\varepsilon` for every component, the ridge shifts every component's
      responsibilities equally, and CAVI stays a coordinate ascent of the bound. Without it (scikit-learn's prior)
      the ridge is the only scale there, the bound falls from one iteration to the next on all-constant data, and
      the loop stopped on a falling bound as "converged" (issue 18). For a direction with variance
      :math:`\sigma^2` it changes the prior by :math:`\nu_0\varepsilon/\sigma^2` relative, the order of the
      ridge's own effect on the scatter.

    Raises
    ------
    ValueError
        For a negative ``reg_covar`` or a non-positive ``dof``.
    """
    if not (np.isfinite(reg_covar) and reg_covar >= 0):
        raise ValueError(f"reg_covar: expected a finite number >= 0, got {reg_covar!r}.")
    cov = np.atleast_2d(np.cov(X.T))
    d = cov.shape[0]
    dof = float(d) if dof is None else dof
    if not (np.isfinite(dof) and dof > 0):
        raise ValueError(f"dof: expected a finite number > 0, got {dof!r}.")
    eigenvalues, vectors = np.linalg.eigh(cov)
    top = float(eigenvalues[-1])
    floor = np.sqrt(np.finfo(np.float64).eps) * top if top > 0 else d * np.finfo(np.float64).eps * (
        float(np.mean(X * X)) or 1.0)
    deficit = np.maximum(floor - eigenvalues, 0.0)
    if deficit.any():
        cov = cov + (vectors * deficit) @ vectors.T
        cov = 0.5 * (cov + cov.T)
    return cov + dof * reg_covar * np.eye(d)


class NormalWishartFactors(NamedTuple):
    r"""Sufficient statistics and the updated factors :math:`q(\mu_k, \Lambda_k) = \mathcal N(m_k,
    (\beta_k\Lambda_k)^{-1})\,\mathcal W(W_k, \nu_k)`: ``nk`` :math:`N_k`, ``beta``, ``m`` (K, d), ``nu`` and
    ``W_inv_chol`` the Cholesky factor of :math:`W_k^{-1}` (K, d, d)."""

    nk: np.ndarray
    beta: np.ndarray
    m: np.ndarray
    nu: np.ndarray
    W_inv_chol: np.ndarray


def normal_wishart_update(X: np.ndarray, resp: np.ndarray, mean0: np.ndarray, beta0: float, dof0: float,
                          W0_inv: np.ndarray, reg_covar: float) -> NormalWishartFactors:
    r"""Update every component's Normal-Wishart factor from responsibilities (Bishop (10.60)-(10.63)).

    .. math::
        \beta_k = \beta_0 + N_k, \quad m_k = (\beta_0 m_0 + N_k \bar x_k)/\beta_k, \quad \nu_k = \nu_0 + N_k,\\
        W_k^{-1} = W_0^{-1} + N_k (S_k + \varepsilon I)
        + \frac{\beta_0 N_k}{\beta_0 + N_k}(\bar x_k - m_0)(\bar x_k - m_0)^\top,

    with :math:`N_k = \sum_n r_{nk}` (plus scikit-learn's :math:`10\epsilon` guard against empty
    components), :math:`\bar x_k`, :math:`S_k` the weighted mean and (centred) scatter, and ``reg_covar``
    :math:`\varepsilon`, as scikit-learn's ``BayesianGaussianMixture``.
    """
    d = X.shape[1]
    nk = resp.sum(0) + 10 * np.finfo(resp.dtype).eps
    xk = resp.T @ X / nk[:, None]
    diff = X[None, :, :] - xk[:, None, :]                                             # (K, N, d)
    scatter = np.einsum("nk,kni,knj->kij", resp, diff, diff, optimize=True) + (nk * reg_covar)[:, None, None] * np.eye(d)
    beta = beta0 + nk
    m = (beta0 * mean0 + nk[:, None] * xk) / beta[:, None]
    dm = xk - mean0
    W_inv = W0_inv + scatter + (beta0 * nk / beta)[:, None, None] * dm[:, :, None] * dm[:, None]
    chol = cholesky(W_inv, name="the Wishart scale W_k^-1 of a component",
                    fix="pass a positive-definite prior covariance or increase reg_covar", max_jitter=ROUNDING_JITTER)
    return NormalWishartFactors(nk, beta, m, dof0 + nk, chol)


def expected_log_gaussian(X: np.ndarray, m: np.ndarray, beta: np.ndarray, nu: np.ndarray,
                          W_inv_chol: np.ndarray) -> np.ndarray:
    r""":math:`\mathbb E_q[\log \mathcal N(x_n \mid \mu_k, \Lambda_k^{-1})]`, shape (N, K) (Bishop (10.64)-(10.65)).

    .. math::
        \tfrac12 \mathbb E[\log|\Lambda_k|] - \tfrac d2 \log 2\pi
        - \tfrac12\big(d/\beta_k + \nu_k (x_n - m_k)^\top W_k (x_n - m_k)\big),\quad
        \mathbb E[\log|\Lambda_k|] = \sum_{i=1}^d \psi\big(\tfrac{\nu_k + 1 - i}2\big) + d \log 2 + \log|W_k|.
    """
    d = X.shape[1]
    e_log_det = (digamma(0.5 * (nu[:, None] - np.arange(d))).sum(1) + d * np.log(2.0)
                 - log_det_from_cholesky(W_inv_chol))
    # (x - m_k)^T W_k (x - m_k) = |L_k^{-1}(x - m_k)|^2 with L_k L_k^T = W_k^{-1}
    maha = np.empty((X.shape[0], len(nu)))
    for k in range(len(nu)):
        proj = solve_triangular(W_inv_chol[k], (X - m[k]).T, lower=True)
        maha[:, k] = (proj * proj).sum(0)
    return 0.5 * e_log_det - 0.5 * d * np.log(2 * np.pi) - 0.5 * (d / beta + nu * maha)


def log_wishart_normaliser(log_det_W: np.ndarray, nu: np.ndarray, d: int) -> np.ndarray:
    """:math:`\\log B(W, \\nu)` of the Wishart density, Bishop (B.79)."""
    return (-0.5 * nu * log_det_W - 0.5 * nu * d * np.log(2.0) - 0.25 * d * (d - 1) * np.log(np.pi)
            - gammaln(0.5 * (nu[:, None] - np.arange(d))).sum(1))
