r"""Coordinate-ascent VI for the truncated DP Gaussian mixture (Blei and Jordan, 2006).

Model (truncation :math:`K`, Normal-Wishart components):

.. math::

    V_k \sim \mathrm{Beta}(1, \alpha),\quad
    \Lambda_k \sim \mathcal W(W_0, \nu_0),\quad
    \mu_k \mid \Lambda_k \sim \mathcal N(m_0, (\kappa_0\Lambda_k)^{-1}),\quad
    z_n \sim \mathrm{Cat}(C(V)),\quad x_n \mid z_n \sim \mathcal N(\mu_{z_n}, \Lambda_{z_n}^{-1}),

with :math:`C_k(V) = V_k\prod_{j<k}(1-V_j)` (stick-breaking, course Def. 4.3). The mean-field family
:math:`q(V_k)=\mathrm{Beta}(\gamma_{k1},\gamma_{k2})`, :math:`q(\mu_k,\Lambda_k)` Normal-Wishart,
:math:`q(z_n)=\mathrm{Cat}(r_n)` gives the closed-form updates

.. math::

    \gamma_{k1} = 1 + N_k,\quad \gamma_{k2} = \alpha + \textstyle\sum_{j>k} N_j,\qquad
    \log r_{nk} = \mathbb E[\log V_k] + \textstyle\sum_{j<k}\mathbb E[\log(1-V_j)]
                 + \mathbb E[\log \mathcal N(x_n;\mu_k,\Lambda_k^{-1})] + \text{const},

and the Normal-Wishart updates :math:`\kappa_k=\kappa_0+N_k`, :math:`\nu_k=\nu_0+N_k`,
:math:`m_k=(\kappa_0m_0+N_k\bar x_k)/\kappa_k`,
:math:`W_k^{-1}=W_0^{-1}+N_kS_k+\frac{\kappa_0N_k}{\kappa_k}(\bar x_k-m_0)(\bar x_k-m_0)^\top`.

The parameterisation, defaults and lower bound (the ELBO up to additive constants) follow
scikit-learn's ``BayesianGaussianMixture(weight_concentration_prior_type="dirichlet_process",
covariance_type="full")`` so the two can be compared number for number; ``covariance_prior`` is
:math:`W_0^{-1}` and the stored ``covariances`` are :math:`W_k^{-1}/\nu_k`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, gammaln, logsumexp

from pgm_ppl.core.conjugate import empirical_covariance_prior, expected_log_gaussian, normal_wishart_update
from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged
from pgm_ppl.core.linalg import ROUNDING_JITTER, cholesky, log_det_from_cholesky
from pgm_ppl.core.validation import check_data, check_int

__all__ = ["DPMixturePrior", "CAVIState", "CAVIResult", "default_prior", "init", "step", "run"]

@dataclass(frozen=True)
class DPMixturePrior:
    """Hyper-parameters: ``alpha`` (DP concentration), ``mean_prior`` :math:`m_0` (d,),
    ``mean_precision`` :math:`\\kappa_0`, ``degrees_of_freedom`` :math:`\\nu_0`, ``covariance_prior``
    :math:`W_0^{-1}` (d, d), and ``reg_covar`` added to each component's scatter diagonal."""

    alpha: float
    mean_prior: np.ndarray
    mean_precision: float
    degrees_of_freedom: float
    covariance_prior: np.ndarray
    reg_covar: float = 1e-6


def default_prior(X: np.ndarray, num_components: int, alpha: float | None = None, *,
                  reg_covar: float = 1e-6) -> DPMixturePrior:
    """scikit-learn's defaults: alpha = 1/K, m0 = data mean, kappa0 = 1, nu0 = d, W0^-1 = data covariance
    (:func:`~pgm_ppl.core.conjugate.empirical_covariance_prior`: floored so a constant column stays proper, and
    carrying the prior's nu0 pseudo-observations' share of the ``reg_covar`` ridge, so the bound cannot fall on
    constant data)."""
    X = _data(X)
    d = X.shape[1]
    a = 1.0 / num_components if alpha is None else float(alpha)
    covariance_prior = empirical_covariance_prior(X, dof=d, reg_covar=reg_covar)
    return DPMixturePrior(a, X.mean(0), 1.0, float(d), covariance_prior, reg_covar)


@dataclass(frozen=True)
class CAVIState:
    """Variational parameters: ``gamma`` (K, 2) Beta parameters of the sticks; ``mean_precision``
    :math:`\\kappa_k` (K,); ``means`` :math:`m_k` (K, d); ``degrees_of_freedom`` :math:`\\nu_k` (K,);
    ``covariances`` :math:`W_k^{-1}/\\nu_k` (K, d, d); ``log_resp`` (N, K) of the last E-step (None
    before the first); ``lower_bound`` after the last update."""

    gamma: np.ndarray
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: np.ndarray
    covariances: np.ndarray
    log_resp: np.ndarray | None
    lower_bound: float

    @property
    def weights(self) -> np.ndarray:
        r"""Stick-breaking weights at the variational means, :math:`\mathbb E[V_k]\prod_{j<k}\mathbb E[1-V_j]`,
        renormalised over the truncation."""
        g1, g2 = self.gamma[:, 0], self.gamma[:, 1]
        w = g1 / (g1 + g2) * np.concatenate([[1.0], np.cumprod(g2 / (g1 + g2))[:-1]])
        return w / w.sum()


@dataclass(frozen=True)
class CAVIResult:
    """Result of :func:`run`: final ``state``, ``weights`` (K,), ``labels`` (N,) from a last E-step,
    ``responsibilities`` (N, K), the ``lower_bounds`` trace, ``num_iterations``, ``converged``,
    ``stop_reason`` (``"tol"`` or ``"max_iter"``) and ``rule`` (the ``tol_rule`` checked).
    ``pgm_ppl.diagnostics.to_inference_data(result, X)`` gives the variational point for ArviZ."""

    state: CAVIState
    weights: np.ndarray
    labels: np.ndarray
    responsibilities: np.ndarray
    lower_bounds: np.ndarray
    num_iterations: int
    converged: bool
    stop_reason: str = "max_iter"
    rule: str = "absolute"

    @property
    def num_clusters(self) -> int:
        """Number of distinct labels among the data."""
        return int(np.unique(self.labels).size)


def _data(X: ArrayLike) -> np.ndarray:
    return check_data(X, "X", min_rows=2)


def _W_inv_chol(state: CAVIState) -> np.ndarray:
    """Cholesky factors of :math:`W_k^{-1} = \\nu_k` ``covariances``."""
    return cholesky(state.covariances * state.degrees_of_freedom[:, None, None], name="the Wishart scale W_k^-1",
                    fix="pass a positive-definite covariance_prior or increase reg_covar", max_jitter=ROUNDING_JITTER)


def _m_step(X: np.ndarray, resp: np.ndarray, prior: DPMixturePrior) -> tuple:
    f = normal_wishart_update(X, resp, prior.mean_prior, prior.mean_precision, prior.degrees_of_freedom,
                              prior.covariance_prior, prior.reg_covar)
    tail = np.concatenate([np.cumsum(f.nk[::-1])[-2::-1], [0.0]])
    gamma = np.stack([1.0 + f.nk, prior.alpha + tail], axis=1)
    cov = f.W_inv_chol @ np.swapaxes(f.W_inv_chol, 1, 2)
    return gamma, f.beta, f.m, f.nu, cov / f.nu[:, None, None]


def _expected_log_weights(gamma: np.ndarray) -> np.ndarray:
    dsum = digamma(gamma.sum(1))
    e_log_v, e_log_1mv = digamma(gamma[:, 0]) - dsum, digamma(gamma[:, 1]) - dsum
    return e_log_v + np.concatenate([[0.0], np.cumsum(e_log_1mv)[:-1]])


def _e_step(X: np.ndarray, state: CAVIState) -> np.ndarray:
    log_prob = expected_log_gaussian(X, state.means, state.mean_precision, state.degrees_of_freedom,
                                     _W_inv_chol(state))
    weighted = log_prob + _expected_log_weights(state.gamma)
    return weighted - logsumexp(weighted, axis=1, keepdims=True)


def _lower_bound(state: CAVIState, log_resp: np.ndarray) -> float:
    d = state.means.shape[1]
    nu = state.degrees_of_freedom
    half_log_det_W = -0.5 * log_det_from_cholesky(_W_inv_chol(state))
    log_wishart = -(nu * half_log_det_W + nu * d * 0.5 * np.log(2.0)
                    + gammaln(0.5 * (nu[None, :] - np.arange(d)[:, None])).sum(0))
    return float(-np.sum(np.exp(log_resp) * log_resp) - log_wishart.sum()
                 + betaln(state.gamma[:, 0], state.gamma[:, 1]).sum()
                 - 0.5 * d * np.log(state.mean_precision).sum())


def init(X: ArrayLike, prior: DPMixturePrior, responsibilities: ArrayLike) -> CAVIState:
    """Initial variational parameters from initial responsibilities (N, K) (one M-step)."""
    X = _data(X)
    r = np.asarray(responsibilities, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != X.shape[0]:
        raise ValueError(f"responsibilities: expected shape ({X.shape[0]}, K), got {r.shape}")
    if prior.mean_prior.shape != (X.shape[1],) or prior.covariance_prior.shape != (X.shape[1],) * 2:
        raise ValueError("prior: mean_prior and covariance_prior must have shapes (d,) and (d, d) "
                         f"with d = {X.shape[1]}")
    return CAVIState(*_m_step(X, r, prior), None, -np.inf)


def step(state: CAVIState, X: np.ndarray, prior: DPMixturePrior) -> tuple[CAVIState, float]:
    """One CAVI sweep: update q(z) given the rest, then the sticks and components; return the new state
    and its lower bound."""
    log_resp = _e_step(X, state)
    new = CAVIState(*_m_step(X, np.exp(log_resp), prior), log_resp, -np.inf)
    lb = _lower_bound(new, log_resp)
    return CAVIState(*_fields(new)[:-1], lb), lb


def _fields(state: CAVIState) -> tuple:
    return (state.gamma, state.mean_precision, state.means, state.degrees_of_freedom, state.covariances,
            state.log_resp, state.lower_bound)


def run(X: ArrayLike, num_components: int, *, prior: DPMixturePrior | None = None,
        responsibilities: ArrayLike | None = None,
        max_iter: int = 200, tol: float = 1e-3, tol_rule: str = "absolute", seed: int = 0) -> CAVIResult:
    """Run CAVI until the lower bound changes by less than ``tol`` (``tol_rule="absolute"``, the default) or by
    less than ``tol`` times its magnitude (``"relative"``), or ``max_iter`` sweeps (then a
    :class:`~pgm_ppl.core.convergence.ConvergenceWarning`).

    Parameters
    ----------
    X
        Data (N, d).
    num_components
        Truncation level :math:`K`.
    prior
        Hyper-parameters; :func:`default_prior` (scikit-learn's defaults) when None.
    responsibilities
        Initial responsibilities (N, K); when None, hard k-means assignments
        (:func:`pgm_ppl.clustering.kmeans`-style, seeded by ``seed``).
    """
    X = _data(X)
    check_int(num_components, "num_components", minimum=1)
    rule = check_tol_rule(tol_rule)
    prior = default_prior(X, num_components) if prior is None else prior
    if responsibilities is None:
        responsibilities = _kmeans_responsibilities(X, num_components, seed)
    state = init(X, prior, responsibilities)
    bounds: list[float] = []
    converged = False
    for _ in range(max_iter):
        state, lb = step(state, X, prior)
        if bounds and has_converged(bounds[-1], lb, tol, rule):
            bounds.append(lb)
            converged = True
            break
        bounds.append(lb)
    if not converged and tol > 0:
        warn_not_converged("dp.cavi.run", max_iter, hint="raise max_iter or loosen tol, and check the lower-bound "
                           "trace.")
    log_resp = _e_step(X, state)
    resp = np.exp(log_resp)
    return CAVIResult(state, state.weights, resp.argmax(1), resp, np.asarray(bounds), len(bounds), converged,
                      "tol" if converged else "max_iter", rule)


def _kmeans_responsibilities(X: np.ndarray, K: int, seed: int) -> np.ndarray:
    from pgm_ppl.clustering import kmeans

    labels = np.asarray(kmeans(X, K, seed=seed).labels)
    return np.eye(K)[labels]
