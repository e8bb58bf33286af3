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

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from pgm_ppl.core.conjugate import gaussian_linear_posterior
from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged
from pgm_ppl.core.validation import check_data


@dataclass(frozen=True, slots=True)
class BLRResult:
    """:math:`q(w) = \\mathcal N(m, S)`, :math:`q(\\tau) = \\mathrm{Gamma}(a, b)` (rate b), the ELBO trace,
    whether the stopping rule fired, and the fixed ``noise_precision`` (None when :math:`\\tau` was learned;
    then ``a`` is infinite). ``pgm_ppl.diagnostics.to_inference_data(result, (X, y))`` gives draws of ``w``
    and ``tau`` and the pointwise log-likelihood; ``stop_reason`` (``"tol"`` or ``"max_iter"``) and ``rule``
    (the ``tol_rule`` checked) say what stopped it."""

    m: np.ndarray
    S: np.ndarray
    a: float
    b: float
    elbo: np.ndarray
    converged: bool = True
    noise_precision: float | None = None
    stop_reason: str = "max_iter"
    rule: str = "absolute"


def fit_linear_regression(X: np.ndarray, y: np.ndarray, *, prior_precision: float = 1.0, a0: float = 1e-2,
                          b0: float = 1e-2, noise_precision: float | None = None, max_iter: int = 100,
                          tol: float = 1e-10, tol_rule: str = "absolute") -> BLRResult:
    """Run CAVI until the ELBO changes by less than ``tol`` (``tol_rule="absolute"``, the default) or by less than
    ``tol`` times its magnitude (``"relative"``); ``noise_precision`` fixes :math:`\\tau`.

    A :class:`~pgm_ppl.core.convergence.ConvergenceWarning` says when ``max_iter`` ran out first."""
    X, y = check_data(X, "X"), check_data(y, "y", ndim=1)
    rule = check_tol_rule(tol_rule)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y: expected shape ({X.shape[0]},) to match X, got {y.shape}.")
    N, d = X.shape
    XtX = X.T @ X
    a, b = (a0 + 0.5 * N, b0 + 0.5 * N) if noise_precision is None else (np.inf, np.nan)
    trace, converged = [], False
    for _ in range(max_iter):
        e_tau = a / b if noise_precision is None else noise_precision
        q_w = gaussian_linear_posterior(X, y, np.eye(d) / prior_precision, 1.0 / e_tau)  # eq. (3.13)
        m, S = q_w.mean, q_w.covariance
        resid = np.sum((y - X @ m) ** 2) + np.trace(XtX @ S)
        if noise_precision is None:
            b = b0 + 0.5 * resid
        trace.append(_elbo(m, S, a, b, resid, N, prior_precision, a0, b0, noise_precision))
        if noise_precision is not None or (len(trace) > 1 and has_converged(trace[-2], trace[-1], tol, rule)):
            converged = True   # with tau fixed, q(w) is the exact posterior after one update
            break
    if not converged:
        warn_not_converged("fit_linear_regression (CAVI)", max_iter,
                           hint="raise max_iter or loosen tol, and check the ELBO trace.")
    return BLRResult(m, S, float(a), float(b), np.array(trace), converged,
                     None if noise_precision is None else float(noise_precision), "tol" if converged else "max_iter",
                     rule)


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
