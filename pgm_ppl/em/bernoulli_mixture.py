r"""Mixtures of multivariate Bernoulli distributions by EM (course Exercise 2.3; Bishop, 2006, §9.3.3).

.. math::
    p(x \mid \theta) = \sum_k \pi_k \prod_{i=1}^d \rho_{ki}^{x_i} (1 - \rho_{ki})^{1 - x_i}, \qquad x \in \{0, 1\}^d.

E-step: :math:`\gamma_{nk} \propto \pi_k \prod_i \rho_{ki}^{x_{ni}}(1-\rho_{ki})^{1-x_{ni}}`, computed as one matrix
product in log-space. M-step, with an optional symmetric :math:`\mathrm{Beta}(1 + c, 1 + c)` prior on each
:math:`\rho_{ki}` (``pseudo_count`` :math:`c`; :math:`c = 0` is maximum likelihood):

.. math::
    \pi_k = \frac{N_k}{N}, \qquad \rho_{ki} = \frac{\sum_n \gamma_{nk} x_{ni} + c}{N_k + 2c}.

Under the prior the objective is the log-posterior, which EM never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from numpy.typing import ArrayLike

from pgm_ppl.core.validation import check_data, check_int
from pgm_ppl.core.em import EStep, run_em


@dataclass(frozen=True)
class BernoulliMixtureParams:
    """Weights (K,) and pixel probabilities :math:`\\rho` (K, d)."""

    weights: np.ndarray
    probs: np.ndarray


@dataclass(frozen=True)
class BernoulliMixtureResult:
    """Fitted parameters, final objective, its non-decreasing trace, responsibilities (N, K), convergence, iterations."""

    params: BernoulliMixtureParams
    log_likelihood: float
    log_likelihood_trace: np.ndarray
    responsibilities: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


def bernoulli_mixture_log_joint(X: ArrayLike, params: BernoulliMixtureParams) -> np.ndarray:
    """(N, K) matrix of :math:`\\log \\pi_k + \\log p(x_n \\mid \\rho_k)`."""
    Xt = torch.as_tensor(_check_binary(X))
    return _log_joint(Xt, (torch.as_tensor(params.weights), torch.as_tensor(params.probs))).numpy()


def fit_bernoulli_mixture(X: ArrayLike, num_components: int, *, pseudo_count: float = 0.0, max_iter: int = 200,
                          tol: float = 1e-8, tol_rule: str = "relative", seed: int = 0) -> BernoulliMixtureResult:
    """Fit a Bernoulli mixture by EM (MAP-EM when ``pseudo_count`` > 0).

    Parameters
    ----------
    X
        (N, d) array of zeros and ones (for example digits binarised at 8/16).
    num_components
        K.
    pseudo_count
        c >= 0 of the Beta(1 + c, 1 + c) prior.
    max_iter, tol, tol_rule
        Stopping rule of :func:`pgm_ppl.core.em.run_em`: ``"relative"`` (change of the log-likelihood over its
        magnitude, the default) or ``"absolute"`` (change of the per-observation mean, scikit-learn's mixture rule).
    seed
        Seed of the initial probabilities :math:`\\rho_{ki} \\sim U(0.25, 0.75)` (Bishop's choice).

    Returns
    -------
    BernoulliMixtureResult

    Raises
    ------
    ValueError
        If ``X`` is not binary or ``pseudo_count`` is negative.
    """
    X = _check_binary(X)
    check_int(num_components, "num_components", minimum=1, maximum=X.shape[0])
    if pseudo_count < 0:
        raise ValueError(f"pseudo_count must be >= 0; got {pseudo_count}.")
    rng = np.random.default_rng(seed)
    start = (torch.full((num_components,), 1.0 / num_components, dtype=torch.float64),
             torch.as_tensor(rng.uniform(0.25, 0.75, size=(num_components, X.shape[1]))))
    Xt = torch.as_tensor(X)
    run = run_em(start, partial(_e_step, X=Xt, c=pseudo_count), partial(_m_step, X=Xt, c=pseudo_count),
                 max_iter=max_iter, tol=tol, tol_rule=tol_rule,
                 num_observations=X.shape[0])
    resp = _e_step(run.params, X=Xt, c=pseudo_count).q.numpy()
    params = BernoulliMixtureParams(run.params[0].numpy().copy(), run.params[1].numpy().copy())
    return BernoulliMixtureResult(params, run.log_likelihood, run.log_likelihood_trace, resp, run.converged,
                                  run.num_iterations, run.stop_reason, run.rule)


def _check_binary(X: ArrayLike) -> np.ndarray:
    X = check_data(X, "X")
    if not np.all((X == 0) | (X == 1)):
        row, col = np.argwhere((X != 0) & (X != 1))[0]
        raise ValueError(f"X must contain only 0 and 1; got {X[row, col]} at row {row}, column {col}.")
    return X


def _log_joint(X: torch.Tensor, params: tuple) -> torch.Tensor:
    weights, probs = params
    tiny = torch.finfo(torch.float64).tiny
    log_p = torch.log(probs.clamp_min(tiny))
    log_1mp = torch.log((1.0 - probs).clamp_min(tiny))
    return X @ log_p.T + (1.0 - X) @ log_1mp.T + torch.log(weights)


def _e_step(params: tuple, *, X: torch.Tensor, c: float) -> EStep:
    log_joint = _log_joint(X, params)
    log_norm = torch.logsumexp(log_joint, 1, keepdim=True)
    probs = params[1]
    log_prior = float(c * (torch.log(probs) + torch.log1p(-probs)).sum()) if c > 0 else 0.0
    return EStep(torch.exp(log_joint - log_norm), float(log_norm.sum()) + log_prior)


def _m_step(resp: torch.Tensor, params: tuple, *, X: torch.Tensor, c: float) -> tuple:
    nk = resp.sum(0)
    probs = (resp.T @ X + c) / (nk[:, None] + 2.0 * c)
    return nk / nk.sum(), probs
