"""CAVI for 1-D Gaussian mixtures: Example 3.7 (fixed parameters) and unknown means (Blei et al., 2017).

With fixed :math:`(\\pi, \\mu, \\sigma^2)` the only factors are :math:`q_n(z_n) = \\mathrm{Cat}(\\phi_n)`, and
one CAVI update gives the EM responsibilities (Example 3.7). With priors :math:`\\mu_k \\sim
\\mathcal N(0, s_0^2)` on the means (weights and noise fixed), the mean field
:math:`\\prod_k \\mathcal N(\\mu_k; m_k, s_k^2)\\prod_n \\mathrm{Cat}(z_n; \\phi_n)` has the closed-form updates
of :func:`fit_mixture_means`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged


def mixture_responsibilities(x: np.ndarray, weights: np.ndarray, means: np.ndarray, variance: float) -> np.ndarray:
    """:math:`\\phi_{nk} = \\pi_k\\mathcal N(x_n;\\mu_k,\\sigma^2)/\\sum_j \\pi_j\\mathcal N(x_n;\\mu_j,\\sigma^2)`,
    course Example 3.7 (shape (N, K)), computed in log space."""
    x = np.asarray(x, dtype=np.float64)
    log_rho = np.log(weights) - 0.5 * (x[:, None] - np.asarray(means)) ** 2 / variance
    return np.exp(log_rho - logsumexp(log_rho, axis=1, keepdims=True))


@dataclass(frozen=True, slots=True)
class MixtureMeansResult:
    """:math:`q(\\mu_k) = \\mathcal N(m_k, s_k^2)`, responsibilities ``phi`` (N, K), ELBO per iteration,
    whether the stopping rule fired, and the fixed mixture ``weights`` and ``variance`` the fit used.
    ``pgm_ppl.diagnostics.to_inference_data(result, x)`` gives draws of ``mu`` and the pointwise
    log-likelihood; ``stop_reason`` (``"tol"`` or ``"max_iter"``) and ``rule``
    (the ``tol_rule`` checked) say what stopped it."""

    m: np.ndarray
    s2: np.ndarray
    phi: np.ndarray
    elbo: np.ndarray
    converged: bool = True
    weights: np.ndarray | None = None
    variance: float = 1.0
    stop_reason: str = "max_iter"
    rule: str = "absolute"


def fit_mixture_means(x: np.ndarray, init_means: np.ndarray, *, weights: np.ndarray | None = None,
                      variance: float = 1.0, prior_var: float = 10.0, max_iter: int = 100,
                      tol: float = 1e-10, tol_rule: str = "absolute") -> MixtureMeansResult:
    """CAVI for a 1-D mixture with unknown means :math:`\\mu_k \\sim \\mathcal N(0, s_0^2)`:

    .. math::
        \\phi_{nk} \\propto \\pi_k\\exp\\big((x_n m_k - (m_k^2 + s_k^2)/2)/\\sigma^2\\big), \\qquad
        s_k^2 = \\Big(\\frac1{s_0^2} + \\frac{\\sum_n\\phi_{nk}}{\\sigma^2}\\Big)^{-1}, \\qquad
        m_k = s_k^2\\,\\frac{\\sum_n \\phi_{nk}x_n}{\\sigma^2}.

    The loop stops when the ELBO changes by less than ``tol`` (``tol_rule="absolute"``, the default) or by less
    than ``tol`` times its magnitude (``"relative"``).
    """
    rule = check_tol_rule(tol_rule)
    x = np.asarray(x, dtype=np.float64)
    m = np.array(init_means, dtype=np.float64)
    K = len(m)
    weights = np.full(K, 1.0 / K) if weights is None else np.asarray(weights, dtype=np.float64)
    s2 = np.full(K, prior_var)
    trace, converged = [], False
    for _ in range(max_iter):
        log_rho = np.log(weights) + (x[:, None] * m - 0.5 * (m**2 + s2)) / variance
        log_phi = log_rho - logsumexp(log_rho, axis=1, keepdims=True)
        phi = np.exp(log_phi)
        s2 = 1.0 / (1.0 / prior_var + phi.sum(0) / variance)
        m = s2 * (phi * x[:, None]).sum(0) / variance
        trace.append(_elbo(x, phi, log_phi, m, s2, weights, variance, prior_var))
        if len(trace) > 1 and has_converged(trace[-2], trace[-1], tol, rule):
            converged = True
            break
    if not converged:
        warn_not_converged("fit_mixture_means (CAVI)", max_iter,
                           hint="raise max_iter or loosen tol, and check the ELBO trace.")
    return MixtureMeansResult(m, s2, phi, np.array(trace), converged, weights, float(variance),
                              "tol" if converged else "max_iter", rule)


def _elbo(x, phi, log_phi, m, s2, weights, variance, prior_var) -> float:
    """:math:`\\mathbb E_q[\\log p(x, z, \\mu)] - \\mathbb E_q[\\log q]`, all terms in closed form."""
    e_sq = (x[:, None] - m) ** 2 + s2                                   # E[(x_n - mu_k)^2]
    lik = np.sum(phi * (np.log(weights) - 0.5 * np.log(2 * np.pi * variance) - 0.5 * e_sq / variance))
    prior = np.sum(-0.5 * np.log(2 * np.pi * prior_var) - 0.5 * (m**2 + s2) / prior_var)
    entropy = np.sum(0.5 * np.log(2 * np.pi * np.e * s2)) - np.sum(phi * log_phi)
    return float(lik + prior + entropy)
