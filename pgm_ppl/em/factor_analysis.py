r"""Factor analysis and probabilistic PCA by EM (syllabus: factor analysers; Tipping & Bishop, 1999).

.. math::
    z_n \sim \mathcal N(0, I_q), \qquad x_n \mid z_n \sim \mathcal N(\mu + W z_n, \Psi), \qquad
    x_n \sim \mathcal N(\mu, C), \quad C = W W^\top + \Psi,

with :math:`\Psi` diagonal (factor analysis) or :math:`\sigma^2 I` (probabilistic PCA). The ML mean is the
sample mean, so EM works on the sample covariance :math:`S = \frac1N \sum_n (x_n - \bar x)(x_n - \bar x)^\top`
alone (each iteration costs :math:`O(d^2 q)`, independent of N). E-step, the Gaussian posterior of the factors:

.. math::
    \beta = W^\top C^{-1}, \qquad \mathbb E[z_n] = \beta (x_n - \mu), \qquad
    \operatorname{Cov}[z_n \mid x_n] = I - \beta W.

M-step (Rubin & Thayer, 1982):

.. math::
    W' = S \beta^\top \big(I - \beta W + \beta S \beta^\top\big)^{-1}, \qquad
    \Psi' = \operatorname{diag}(S - W' \beta S) \quad \text{or} \quad \sigma'^2 = \tfrac1d \operatorname{tr}(S - W' \beta S).

The log-likelihood is :math:`\ell = -\frac N2 \big(d \log 2\pi + \log|C| + \operatorname{tr}(C^{-1} S)\big)`.
The loadings are identified only up to a rotation :math:`W R`; compare fits through :math:`C`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike

from scipy.linalg import cho_solve

from pgm_ppl.core.linalg import cholesky, log_det_from_cholesky, solve_psd
from pgm_ppl.core.validation import check_data
from pgm_ppl.core.em import EStep, run_em


@dataclass(frozen=True)
class FactorAnalysisParams:
    """Mean (d,), loadings W (d, q) and diagonal noise variances (d,) (all equal for PPCA)."""

    mean: np.ndarray
    loadings: np.ndarray
    noise_variance: np.ndarray

    def covariance(self) -> np.ndarray:
        """Model covariance :math:`C = W W^\\top + \\Psi`."""
        return self.loadings @ self.loadings.T + np.diag(self.noise_variance)


@dataclass(frozen=True)
class FactorAnalysisResult:
    """Fitted parameters, final log-likelihood, its non-decreasing trace, convergence flag, iteration count, and
    which rule stopped the loop (``stop_reason`` ``"tol"`` or ``"max_iter"``; ``rule`` the tolerance rule)."""

    params: FactorAnalysisParams
    log_likelihood: float
    log_likelihood_trace: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


def factor_analysis_log_likelihood(X: ArrayLike, params: FactorAnalysisParams) -> float:
    """Total log-likelihood :math:`\\sum_n \\log \\mathcal N(x_n \\mid \\mu, W W^\\top + \\Psi)`."""
    X = check_data(X, "X")
    diff = X - params.mean
    S = diff.T @ diff / X.shape[0]
    return _log_likelihood(S, params.covariance(), X.shape[0])


_NOISE_FLOOR = 1e-12
"""Noise-variance floor relative to the mean sample variance (scikit-learn's ``SMALL`` for unit-variance data)."""


def fit_factor_analysis(X: ArrayLike, num_factors: int, *, isotropic: bool = False, max_iter: int = 1000,
                        tol: float = 1e-10, tol_rule: str = "relative", min_noise_variance: float = _NOISE_FLOOR,
                        seed: int = 0) -> FactorAnalysisResult:
    """Fit factor analysis (``isotropic=False``) or probabilistic PCA (``isotropic=True``) by EM.

    Parameters
    ----------
    X
        (N, d) data.
    num_factors
        q, between 1 and d.
    isotropic
        Constrain :math:`\\Psi = \\sigma^2 I` (PPCA).
    max_iter, tol, tol_rule
        Stopping rule of :func:`pgm_ppl.core.em.run_em`: ``"relative"`` (change of the log-likelihood over its
        magnitude, the default) or ``"absolute"`` (change of the total log-likelihood below ``tol``,
        scikit-learn's ``FactorAnalysis`` rule: copy its ``tol=1e-2`` with ``tol_rule="absolute"``).
    min_noise_variance
        Lower bound on the noise variances, relative to the mean sample variance :math:`\\bar s` (the floor is
        ``min_noise_variance`` :math:`\\cdot \\bar s`; 1e-12 is scikit-learn's ``SMALL`` for unit-variance data). A
        Heywood case or a constant column (noise variance 0) sits at the floor, as in scikit-learn's
        ``FactorAnalysis``.
    seed
        Seed of the random initial loadings.

    Returns
    -------
    FactorAnalysisResult

    Raises
    ------
    ValueError
        If ``X`` has fewer than 2 rows (the sample covariance needs two) or ``num_factors`` is outside [1, d].

    See Also
    --------
    ppca_closed_form : the exact PPCA maximum-likelihood solution.
    """
    X = check_data(X, "X", min_rows=2)
    N, d = X.shape
    if not 1 <= num_factors <= d:
        raise ValueError(f"num_factors must be between 1 and d = {d}; got {num_factors}.")
    mean = X.mean(0)
    S = (X - mean).T @ (X - mean) / N
    rng = np.random.default_rng(seed)
    mean_variance = float(np.diag(S).mean())
    if not mean_variance > 0:
        raise ValueError("X: expected at least one column that varies, got only constant columns; factor analysis "
                         "has nothing to explain.")
    floor = min_noise_variance * mean_variance
    start = (0.5 * np.sqrt(mean_variance) * rng.standard_normal((d, num_factors)), np.maximum(np.diag(S), floor))
    run = run_em(start, partial(_e_step, S=S, N=N),
                 partial(_m_step, S=S, isotropic=isotropic, floor=floor), max_iter=max_iter, tol=tol, tol_rule=tol_rule)
    W, psi = run.params
    return FactorAnalysisResult(FactorAnalysisParams(mean, W, psi), run.log_likelihood, run.log_likelihood_trace,
                                run.converged, run.num_iterations, run.stop_reason, run.rule)


def ppca_closed_form(X: ArrayLike, num_factors: int) -> FactorAnalysisParams:
    r"""Maximum-likelihood PPCA from the eigendecomposition of S (Tipping & Bishop, 1999).

    .. math::
        \sigma^2 = \frac{1}{d - q}\sum_{j > q} \lambda_j, \qquad W = U_q (\Lambda_q - \sigma^2 I)^{1/2}.

    When the data lie in a q-dimensional subspace (the discarded eigenvalues are zero, or rounding makes them
    slightly negative), :math:`\sigma^2` sits at the floor of :func:`fit_factor_analysis` (``1e-12`` times the
    mean sample variance), so the model covariance stays positive definite.

    Raises
    ------
    ValueError
        If ``X`` has fewer than 2 rows or only constant columns, or ``num_factors`` is outside [1, d - 1].
    """
    X = check_data(X, "X", min_rows=2)
    N, d = X.shape
    if not 1 <= num_factors < d:
        raise ValueError(f"num_factors must be between 1 and d - 1 = {d - 1}; got {num_factors}.")
    mean = X.mean(0)
    eigval, eigvec = np.linalg.eigh((X - mean).T @ (X - mean) / N)
    eigval, eigvec = eigval[::-1], eigvec[:, ::-1]
    mean_variance = float(eigval.sum() / d)
    if not mean_variance > 0:
        raise ValueError("X: expected at least one column that varies, got only constant columns; PPCA has "
                         "nothing to explain.")
    sigma2 = max(float(eigval[num_factors:].mean()), _NOISE_FLOOR * mean_variance)
    W = eigvec[:, :num_factors] * np.sqrt(np.maximum(eigval[:num_factors] - sigma2, 0.0))
    return FactorAnalysisParams(mean, W, np.full(d, sigma2))


def _log_likelihood(S: np.ndarray, C: np.ndarray, N: int) -> float:
    chol = cholesky(C, name="the model covariance W W^T + Psi", fix="raise the noise-variance floor")
    log_det = log_det_from_cholesky(chol)
    trace = np.trace(cho_solve((chol, True), S))
    return float(-0.5 * N * (S.shape[0] * math.log(2.0 * math.pi) + log_det + trace))


def _e_step(params: tuple, *, S: np.ndarray, N: int) -> EStep:
    """Posterior map :math:`\\beta = W^\\top C^{-1}` (via the q x q Woodbury form) and the log-likelihood."""
    W, psi = params
    q = W.shape[1]
    Wp = W / psi[:, None]
    G = solve_psd(np.eye(q) + W.T @ Wp, np.eye(q), name="I + W^T Psi^-1 W",  # Cov[z | x]
                  fix="raise the noise-variance floor")
    beta = G @ Wp.T                                         # = W^T C^-1
    return EStep((beta, G), _log_likelihood(S, W @ W.T + np.diag(psi), N))


def _m_step(q: tuple, params: tuple, *, S: np.ndarray, isotropic: bool, floor: float) -> tuple:
    beta, G = q
    SB = S @ beta.T
    W = solve_psd(G + beta @ SB, SB.T, name="E[z z^T] summed",  # S beta^T (G + beta S beta^T)^-1
                  fix="raise the noise-variance floor").T
    resid = np.diag(S) - np.einsum("ij,ji->i", W, beta @ S)
    psi = np.full_like(resid, resid.mean()) if isotropic else resid
    return W, np.maximum(psi, floor)
