r"""Mixtures of multivariate Student-t distributions by EM (course Remark 2.10: a degeneracy remedy).

.. math::
    p(x \mid \theta) = \sum_k \pi_k\, t_{\nu_k}(x \mid \mu_k, \Sigma_k), \qquad
    t_\nu(x \mid \mu, \Sigma) = \int \mathcal N(x \mid \mu, \Sigma / u)\, \mathrm{Gamma}(u \mid \tfrac\nu2, \tfrac\nu2)\, du.

Heavy tails down-weight outlying points, so a component is less tempted to collapse on a few of them.
EM treats both the label :math:`z_n` and the scale :math:`u_n` as latent (Peel & McLachlan, 2000). E-step:

.. math::
    \tau_{nk} = \frac{\pi_k t_{\nu_k}(x_n \mid \mu_k, \Sigma_k)}{\sum_j \pi_j t_{\nu_j}(x_n \mid \mu_j, \Sigma_j)}, \qquad
    u_{nk} = \mathbb E[u_n \mid x_n, z_n{=}k] = \frac{\nu_k + d}{\nu_k + \delta_{nk}},

with :math:`\delta_{nk}` the Mahalanobis distance. M-step: :math:`\pi_k = \frac1N\sum_n \tau_{nk}`,
:math:`\mu_k = \frac{\sum_n \tau_{nk} u_{nk} x_n}{\sum_n \tau_{nk} u_{nk}}`,
:math:`\Sigma_k = \frac{\sum_n \tau_{nk} u_{nk} (x_n - \mu_k)(x_n - \mu_k)^\top}{\sum_n \tau_{nk}}`, and, when the
degrees of freedom are learned, :math:`\nu_k` solves the one-dimensional equation (ECM step)

.. math::
    -\psi(\tfrac{\nu}{2}) + \log \tfrac{\nu}{2} + 1 + \frac{\sum_n \tau_{nk}(\log u_{nk} - u_{nk})}{\sum_n \tau_{nk}}
    + \psi(\tfrac{\nu^{\text{old}} + d}{2}) - \log \tfrac{\nu^{\text{old}} + d}{2} = 0.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import digamma

from pgm_ppl.em import _gaussian as G
from pgm_ppl.clustering import distinct_clusters
from pgm_ppl.core.convergence import ConvergenceWarning
from pgm_ppl.core.validation import check_data, check_int
from pgm_ppl.core.em import EStep, run_em
from pgm_ppl.em.gmm import GMMParams, fit_gmm

_DF_BOUNDS = (1e-2, 1e4)


@dataclass(frozen=True)
class StudentTMixtureParams:
    """Weights (K,), means (K, d), full scale matrices (K, d, d) and degrees of freedom (K,)."""

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    df: np.ndarray


@dataclass(frozen=True)
class StudentTMixtureResult:
    """Fitted parameters, final log-likelihood, its non-decreasing trace, convergence flag and iteration count."""

    params: StudentTMixtureParams
    log_likelihood: float
    log_likelihood_trace: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


def student_t_mixture_log_prob(X: ArrayLike, params: StudentTMixtureParams) -> np.ndarray:
    """Per-point :math:`\\log p(x_n \\mid \\theta)`, shape (N,)."""
    X = torch.as_tensor(check_data(X, "X"))
    state = tuple(torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in
                  (params.weights, params.means, params.scales, params.df))
    log_joint, _ = _log_joint_and_delta(X, state)
    return torch.logsumexp(log_joint, 1).numpy()


def fit_student_t_mixture(X: ArrayLike, num_components: int, *, df: float = 4.0, learn_df: bool = True,
                          init: GMMParams | None = None, max_iter: int = 200, tol: float = 1e-8,
                          tol_rule: str = "relative", reg_covar: float = 1e-6, seed: int = 0) -> StudentTMixtureResult:
    """Fit a Student-t mixture by EM/ECM (see the module docstring), initialised from a k-means-started GMM.

    Parameters
    ----------
    X
        (N, d) data.
    num_components
        K.
    df
        Initial (or fixed, when ``learn_df`` is False) degrees of freedom, > 0.
    learn_df
        Update each :math:`\\nu_k` by the ECM step, within [0.01, 1e4].
    init
        Full-covariance :class:`~pgm_ppl.em.gmm.GMMParams` to start from; default: a short k-means-started GMM fit.
    max_iter, tol, tol_rule
        Stopping rule of :func:`pgm_ppl.core.em.run_em`: ``"relative"`` (change of the log-likelihood over its
        magnitude, the default) or ``"absolute"`` (change of the per-observation mean, scikit-learn's mixture rule).
    reg_covar
        Added to every scale diagonal.
    seed
        Seed of the default initialisation.

    Returns
    -------
    StudentTMixtureResult

    Raises
    ------
    ValueError
        If ``df`` is not positive or ``init`` does not fit the data.
    """
    X = check_data(X, "X")
    check_int(num_components, "num_components", minimum=1, maximum=X.shape[0])
    if df <= 0:
        raise ValueError(f"df must be positive; got {df}.")
    if init is None:
        num_components = distinct_clusters(X, num_components, "fit_student_t_mixture")
        with warnings.catch_warnings():  # the distinct-cluster warning was given once, above
            warnings.simplefilter("ignore", ConvergenceWarning)
            init = fit_gmm(X, num_components, max_iter=20, seed=seed).params
    if init.covariance_type != "full" or init.means.shape != (num_components, X.shape[1]):
        raise ValueError(f"init must be a full-covariance GMMParams with means of shape "
                         f"{(num_components, X.shape[1])}; got {init.covariance_type!r}, {init.means.shape}.")
    Xt = torch.as_tensor(X)
    start = (torch.as_tensor(init.weights), torch.as_tensor(init.means), torch.as_tensor(init.covariances),
             torch.full((num_components,), float(df), dtype=torch.float64))
    run = run_em(start, partial(_e_step, X=Xt),
                 partial(_m_step, X=Xt, learn_df=learn_df, reg_covar=reg_covar), max_iter=max_iter, tol=tol,
                 tol_rule=tol_rule, num_observations=X.shape[0])
    w, m, s, v = (a.numpy().copy() for a in run.params)
    return StudentTMixtureResult(StudentTMixtureParams(w, m, s, v), run.log_likelihood, run.log_likelihood_trace,
                                 run.converged, run.num_iterations, run.stop_reason, run.rule)


def _log_joint_and_delta(X: torch.Tensor, state: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K) :math:`\\log \\pi_k + \\log t_{\\nu_k}(x_n)` and the Mahalanobis distances :math:`\\delta_{nk}`."""
    weights, means, scales, df = state
    d = X.shape[1]
    prec_chol = G.precision_cholesky(scales, "full")
    y = torch.matmul(X.unsqueeze(0), prec_chol) - torch.matmul(means.unsqueeze(1), prec_chol)
    delta = (y * y).sum(-1).T
    log_det = torch.log(torch.diagonal(prec_chol, dim1=-2, dim2=-1)).sum(-1)
    log_norm = (torch.lgamma(0.5 * (df + d)) - torch.lgamma(0.5 * df) - 0.5 * d * torch.log(df * math.pi) + log_det)
    log_t = log_norm - 0.5 * (df + d) * torch.log1p(delta / df)
    return log_t + torch.log(weights), delta


def _e_step(state: tuple, *, X: torch.Tensor) -> EStep:
    log_joint, delta = _log_joint_and_delta(X, state)
    log_norm = torch.logsumexp(log_joint, 1, keepdim=True)
    tau = torch.exp(log_joint - log_norm)
    df = state[3]
    u = (df + X.shape[1]) / (df + delta)
    return EStep((tau, u), float(log_norm.sum()))


def _m_step(q: tuple, state: tuple, *, X: torch.Tensor, learn_df: bool, reg_covar: float) -> tuple:
    tau, u = q
    d = X.shape[1]
    nk = tau.sum(0) + 1e-300
    tu = tau * u
    means = (tu.T @ X) / tu.sum(0)[:, None]
    diff = X.unsqueeze(0) - means.unsqueeze(1)
    scales = torch.matmul((diff * tu.T.unsqueeze(-1)).transpose(1, 2), diff) / nk[:, None, None]
    scales = G.add_to_diagonal(scales, reg_covar, "full")
    df = state[3]
    if learn_df:
        stat = ((tau * (torch.log(u) - u)).sum(0) / nk).numpy()
        old = df.numpy()
        df = torch.as_tensor([_solve_df(s, o, d) for s, o in zip(stat, old)], dtype=torch.float64)
    return tau.mean(0), means, scales, df


def _solve_df(stat: float, old_df: float, d: int) -> float:
    """Root of the ECM degrees-of-freedom equation, clipped to the search interval."""
    const = 1.0 + stat + digamma(0.5 * (old_df + d)) - np.log(0.5 * (old_df + d))

    def f(v: float) -> float:
        return -digamma(0.5 * v) + np.log(0.5 * v) + const

    lo, hi = _DF_BOUNDS
    if f(hi) > 0:
        return hi
    if f(lo) < 0:
        return lo
    return float(brentq(f, lo, hi, xtol=1e-12))
