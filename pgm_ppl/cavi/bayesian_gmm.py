"""CAVI for the Bayesian Gaussian mixture (Dirichlet-Normal-Wishart; Bishop §10.2, course Ex. 3.5).

Model: :math:`\\pi \\sim \\mathrm{Dir}(\\alpha_0)`, :math:`\\Lambda_k \\sim \\mathcal W(W_0, \\nu_0)`,
:math:`\\mu_k \\mid \\Lambda_k \\sim \\mathcal N(m_0, (\\beta_0 \\Lambda_k)^{-1})`,
:math:`z_n \\sim \\mathrm{Cat}(\\pi)`, :math:`x_n \\mid z_n \\sim \\mathcal N(\\mu_{z_n}, \\Lambda_{z_n}^{-1})`.
Mean-field :math:`q(z)\\,q(\\pi)\\prod_k q(\\mu_k, \\Lambda_k)` with the closed-form updates of course eq.
(3.13): a local step (responsibilities) and a global step (Dirichlet and Normal-Wishart factors).

The parameterisation follows scikit-learn's ``BayesianGaussianMixture(covariance_type="full",
weight_concentration_prior_type="dirichlet_distribution")`` (``covariance`` is :math:`W_0^{-1}`, a
``reg_covar`` ridge is added to each weighted scatter), so both give the same factors from the same
initial responsibilities; our ELBO is the full bound, scikit-learn's ``lower_bounds_`` the same minus
constants (:func:`sklearn_lower_bound_offset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln, logsumexp

from pgm_ppl.core.conjugate import (empirical_covariance_prior, expected_log_gaussian, log_wishart_normaliser,
                                    normal_wishart_update)
from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged
from pgm_ppl.core.linalg import cholesky, log_det_from_cholesky
from pgm_ppl.core.validation import check_data, check_int, warn_if_reg_covar_dominates
from pgm_ppl.clustering import kmeans


@dataclass(frozen=True)
class NormalWishartPrior:
    """Hyper-parameters :math:`\\alpha_0` (``concentration``), :math:`m_0` (``mean``), :math:`\\beta_0`
    (``mean_precision``), :math:`\\nu_0` (``dof``) and :math:`W_0^{-1}` (``covariance``)."""

    concentration: float
    mean: np.ndarray
    mean_precision: float
    dof: float
    covariance: np.ndarray

    @classmethod
    def default(cls, X: np.ndarray, num_components: int, *, reg_covar: float = 0.0) -> NormalWishartPrior:
        """scikit-learn's defaults: :math:`\\alpha_0 = 1/K`, :math:`m_0 = \\bar x`, :math:`\\beta_0 = 1`,
        :math:`\\nu_0 = d`, :math:`W_0^{-1}` the empirical covariance of ``X`` plus :math:`\\nu_0` ``reg_covar``
        (:func:`~pgm_ppl.core.conjugate.empirical_covariance_prior`: floored at rounding level, so a constant
        column keeps the bound finite, and carrying the ridge that :func:`fit_bayesian_gmm` adds per observation,
        so the bound never falls on constant data). :func:`fit_bayesian_gmm` passes its own ``reg_covar``."""
        d = float(X.shape[1])
        return cls(1.0 / num_components, X.mean(0), 1.0, d,
                   empirical_covariance_prior(X, dof=d, reg_covar=reg_covar))


class BGMMState(NamedTuple):
    """Variational factors: :math:`q(\\pi) = \\mathrm{Dir}(\\alpha)`, :math:`q(\\mu_k, \\Lambda_k) =
    \\mathcal N(m_k, (\\beta_k\\Lambda_k)^{-1})\\,\\mathcal W(W_k, \\nu_k)`; ``W_inv_chol`` is the
    Cholesky factor of :math:`W_k^{-1}`, shape (K, d, d)."""

    alpha: np.ndarray
    beta: np.ndarray
    m: np.ndarray
    W_inv_chol: np.ndarray
    nu: np.ndarray


@dataclass(frozen=True, slots=True)
class BGMMResult:
    """Final factors, responsibilities :math:`r_{nk}` (E-step of the last iteration) and the ELBO after
    every iteration (non-decreasing; the full bound, so scikit-learn's ``lower_bound_`` is
    ``elbo[-1] - sklearn_lower_bound_offset(N, prior, K)``). ``pgm_ppl.diagnostics.to_inference_data(result, X)``
    gives draws from the factors (sites ``pi``, ``mu``, ``Lambda``) and the pointwise log-likelihood; ``stop_reason``
    (``"tol"`` or ``"max_iter"``) and ``rule`` (the ``tol_rule`` checked) say what stopped it."""

    state: BGMMState
    resp: np.ndarray
    elbo: np.ndarray
    converged: bool
    stop_reason: str = "max_iter"
    rule: str = "absolute"

    @property
    def weights(self) -> np.ndarray:
        """Posterior mean mixture weights :math:`\\alpha_k / \\sum_j \\alpha_j`."""
        return self.state.alpha / self.state.alpha.sum()

    @property
    def covariances(self) -> np.ndarray:
        """Posterior-mean-precision covariances :math:`(\\nu_k W_k)^{-1}` (scikit-learn's ``covariances_``)."""
        L = self.state.W_inv_chol
        return L @ np.swapaxes(L, 1, 2) / self.state.nu[:, None, None]


def global_step(X: np.ndarray, resp: np.ndarray, prior: NormalWishartPrior, reg_covar: float = 1e-6) -> BGMMState:
    """Update :math:`q(\\pi)` (Bishop 10.58, :math:`\\alpha_k = \\alpha_0 + N_k`) and every
    :math:`q(\\mu_k, \\Lambda_k)` by :func:`pgm_ppl.core.conjugate.normal_wishart_update` (10.60-10.63)."""
    f = normal_wishart_update(X, resp, prior.mean, prior.mean_precision, prior.dof, prior.covariance, reg_covar)
    return BGMMState(prior.concentration + f.nk, f.beta, f.m, f.W_inv_chol, f.nu)


def _log_det_W(state: BGMMState) -> np.ndarray:
    return -log_det_from_cholesky(state.W_inv_chol)


def local_step(X: np.ndarray, state: BGMMState) -> tuple[np.ndarray, np.ndarray]:
    """Log-responsibilities and per-point log-normalisers (Bishop 10.46-10.49, 10.64-10.66):

    .. math::
        \\log \\rho_{nk} = \\mathbb E[\\log \\pi_k] + \\tfrac12 \\mathbb E[\\log|\\Lambda_k|]
        - \\tfrac d2 \\log 2\\pi - \\tfrac12\\big(d/\\beta_k + \\nu_k (x_n - m_k)^\\top W_k (x_n - m_k)\\big),

    with :math:`\\mathbb E[\\log \\pi_k] = \\psi(\\alpha_k) - \\psi(\\sum_j \\alpha_j)` and
    :math:`\\mathbb E[\\log|\\Lambda_k|] = \\sum_{i=1}^d \\psi((\\nu_k + 1 - i)/2) + d \\log 2 + \\log|W_k|`.
    """
    e_log_pi = digamma(state.alpha) - digamma(state.alpha.sum())
    log_rho = e_log_pi + expected_log_gaussian(X, state.m, state.beta, state.nu, state.W_inv_chol)
    log_norm = logsumexp(log_rho, axis=1)
    return log_rho - log_norm[:, None], log_norm


_log_wishart_norm = log_wishart_normaliser


def _log_det_prior_covariance(prior: NormalWishartPrior) -> float:
    """:math:`\\log|W_0^{-1}|` by the guarded Cholesky (``slogdet`` of a non-PD matrix returns a sign and goes on)."""
    return float(log_det_from_cholesky(cholesky(prior.covariance, name="prior.covariance",
                                                fix="pass a symmetric positive-definite matrix")))


def _log_dirichlet_norm(alpha: np.ndarray) -> float:
    return float(gammaln(alpha.sum()) - gammaln(alpha).sum())


def elbo(X: np.ndarray, log_resp: np.ndarray, state: BGMMState, prior: NormalWishartPrior) -> float:
    """The ELBO (course eq. (3.8)) when the global factors are optimal for the responsibilities
    (i.e. right after :func:`global_step`), in collapsed form:

    .. math::
        \\mathcal L = -\\sum_{nk} r_{nk}\\log r_{nk} + \\log\\frac{C(\\alpha_0)}{C(\\alpha)}
        + \\sum_k \\Big[\\tfrac d2 \\log\\frac{\\beta_0}{\\beta_k} + \\log\\frac{B(W_0, \\nu_0)}{B(W_k, \\nu_k)}\\Big]
        - \\tfrac{Nd}2 \\log 2\\pi,

    with :math:`C` the Dirichlet and :math:`B` the Wishart normalisers: the ratio of posterior to prior
    normalisers is the evidence of the responsibility-weighted data.
    """
    (N, d), K = X.shape, len(state.alpha)
    resp = np.exp(log_resp)
    entropy = -np.sum(resp * log_resp)
    alpha0 = np.full(K, prior.concentration)
    log_det_W0_inv = _log_det_prior_covariance(prior)
    log_b0 = _log_wishart_norm(np.array([-log_det_W0_inv]), np.array([prior.dof]), d)[0]
    return float(entropy + _log_dirichlet_norm(alpha0) - _log_dirichlet_norm(state.alpha)
                 + np.sum(0.5 * d * np.log(prior.mean_precision / state.beta) + log_b0
                          - _log_wishart_norm(_log_det_W(state), state.nu, d))
                 - 0.5 * N * d * np.log(2 * np.pi))


def sklearn_lower_bound_offset(num_data: int, prior: NormalWishartPrior, num_components: int) -> float:
    """Constant :math:`\\mathcal L - \\mathcal L_{\\mathrm{sklearn}}`: the prior normalisers, the
    :math:`\\pi^{d(d-1)/4}` Wishart factor and :math:`-\\tfrac{Nd}2\\log 2\\pi` that scikit-learn drops."""
    d, K = len(prior.mean), num_components
    log_det_W0_inv = _log_det_prior_covariance(prior)
    log_b0 = _log_wishart_norm(np.array([-log_det_W0_inv]), np.array([prior.dof]), d)[0]
    return float(_log_dirichlet_norm(np.full(K, prior.concentration)) + K * log_b0
                 + 0.5 * K * d * np.log(prior.mean_precision) + 0.25 * K * d * (d - 1) * np.log(np.pi)
                 - 0.5 * num_data * d * np.log(2 * np.pi))


def fit_bayesian_gmm(X: np.ndarray, num_components: int, *, prior: NormalWishartPrior | None = None,
                     init_resp: np.ndarray | None = None, max_iter: int = 100, tol: float = 1e-3,
                     tol_rule: str = "absolute", reg_covar: float = 1e-6, seed: int = 0) -> BGMMResult:
    """Fit the Bayesian Gaussian mixture by CAVI.

    Initialisation as scikit-learn: a global step from ``init_resp`` (default: one-hot k-means labels,
    seeded by ``seed``). Each iteration is a local step then a global step; the ELBO is recorded after
    it and the loop stops when it changes by less than ``tol`` (``tol_rule="absolute"``, the default, as
    scikit-learn's ``BayesianGaussianMixture``) or by less than ``tol`` times its magnitude (``"relative"``);
    ``tol=0`` runs all ``max_iter``; a
    :class:`~pgm_ppl.core.convergence.ConvergenceWarning` says when ``max_iter`` ran out first. The ELBO is
    the full bound: scikit-learn's ``lower_bound_`` drops constants, and
    ``result.elbo - sklearn_lower_bound_offset(len(X), prior, num_components)`` is its value.

    Raises
    ------
    ValueError
        For a non-2-D or non-finite ``X``, fewer than 2 rows (the default prior is the sample covariance), or
        ``init_resp`` not of shape (N, K) with rows summing to one.
    """
    X = check_data(X, "X", min_rows=2)
    rule = check_tol_rule(tol_rule)
    N, K = X.shape[0], check_int(num_components, "num_components", minimum=1, maximum=X.shape[0])
    warn_if_reg_covar_dominates(X, reg_covar, "fit_bayesian_gmm")
    prior = prior or NormalWishartPrior.default(X, K, reg_covar=reg_covar)
    if init_resp is None:
        init_resp = np.eye(K)[kmeans(X, K, seed=seed).labels]
    init_resp = np.asarray(init_resp, dtype=np.float64)
    if init_resp.shape != (N, K) or not np.allclose(init_resp.sum(1), 1.0):
        raise ValueError(f"init_resp must have shape {(N, K)} with rows summing to 1, got {init_resp.shape}.")
    state = global_step(X, init_resp, prior, reg_covar)
    trace, converged = [], False
    for _ in range(max_iter):
        log_resp, _ = local_step(X, state)
        state = global_step(X, np.exp(log_resp), prior, reg_covar)
        trace.append(elbo(X, log_resp, state, prior))
        if len(trace) > 1 and has_converged(trace[-2], trace[-1], tol, rule):
            converged = True
            break
    if not converged and tol > 0:
        warn_not_converged("fit_bayesian_gmm (CAVI)", max_iter, hint="raise max_iter or loosen tol, and check "
                           "the ELBO trace.")
    return BGMMResult(state, np.exp(log_resp), np.array(trace), converged, "tol" if converged else "max_iter", rule)
