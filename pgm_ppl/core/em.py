r"""A generic expectation-maximisation engine (course chapter 2, "EM in its general form").

Every EM of the package runs on this one loop: the fitters of :mod:`pgm_ppl.em` (mixtures, factor analysis) and
the graphical models' EMs (Baum-Welch, Kalman EM, Bayes-net EM), which is why it lives in :mod:`pgm_ppl.core`,
below both; :mod:`pgm_ppl.em` re-exports it. The user supplies an E-step that returns the
variational distribution :math:`q^{t+1}(z) = p(z \mid x, \theta^t)` (course eq. (2.33)) together with the
log-likelihood :math:`\log p(x \mid \theta^t)` it costs nothing to compute there, and an M-step that returns
any :math:`\theta^{t+1}` with :math:`\mathcal L(q^{t+1}, \theta^{t+1}) \ge \mathcal L(q^{t+1}, \theta^t)`
(exact, eq. (2.35), or partial: the generalised EM of Remark 2.9). The engine follows the init/step/run
trio: :func:`em_init` builds the state, :func:`em_step` does one E- and one M-step, :func:`run_em` loops and
records the log-likelihood trace, which EM guarantees to be non-decreasing (eq. (2.37)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
from scipy.special import logsumexp

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged

P = TypeVar("P")


class EStep(NamedTuple):
    """What an E-step returns: the posterior over latents and the log-likelihood at the current parameters.

    ``log_likelihood`` is :math:`\\log p(x \\mid \\theta^t)` (plus :math:`\\log p(\\theta^t)` for MAP-EM), the
    quantity EM never decreases.
    """

    q: Any
    log_likelihood: float


class ELBODecomposition(NamedTuple):
    """The three terms of :math:`\\log p(x \\mid \\theta) = \\mathcal L(q, \\theta) + \\mathrm{KL}(q \\| p(z \\mid x, \\theta))`."""

    log_evidence: float
    elbo: float
    kl: float


def elbo_decomposition(log_joint: Any, q: Any) -> ELBODecomposition:
    r"""Split the log-evidence into the ELBO and the posterior KL for discrete latents (course eqs. (2.31)-(2.32)).

    .. math::
        \log p(x \mid \theta) = \underbrace{\sum_n \sum_k q_{nk} \log \frac{p(x_n, z_n{=}k \mid \theta)}{q_{nk}}}_{\mathcal L(q, \theta)}
        + \underbrace{\sum_n \sum_k q_{nk} \log \frac{q_{nk}}{p(z_n{=}k \mid x_n, \theta)}}_{\mathrm{KL}(q \,\|\, p(z \mid x, \theta))}

    where :math:`q_{nk}` is a distribution over the :math:`K` values of each observation's latent
    :math:`z_n`. Each term is computed on its own (no term is obtained by subtraction), so the identity
    is a genuine check of an EM implementation; ``0 log 0`` is taken as 0.

    Parameters
    ----------
    log_joint
        Array of shape (N, K): :math:`\log p(x_n, z_n = k \mid \theta)`.
    q
        Array of shape (N, K), rows summing to one.

    Returns
    -------
    ELBODecomposition
        ``log_evidence`` :math:`\sum_n \log \sum_k p(x_n, z_n{=}k)`, ``elbo`` and ``kl`` (non-negative).

    Raises
    ------
    ValueError
        If the shapes differ or ``q`` has negative entries.
    """
    log_joint = np.asarray(_to_numpy(log_joint), dtype=np.float64)
    q = np.asarray(_to_numpy(q), dtype=np.float64)
    if log_joint.ndim != 2 or log_joint.shape != q.shape:
        raise ValueError(f"log_joint and q must both have shape (N, K); got {log_joint.shape} and {q.shape}.")
    if np.any(q < 0):
        raise ValueError("q must be non-negative (a distribution over the K latent values per row).")
    log_norm = logsumexp(log_joint, axis=1, keepdims=True)
    log_q = np.log(np.where(q > 0, q, 1.0))
    elbo = float(np.sum(np.where(q > 0, q * (log_joint - log_q), 0.0)))
    kl = float(np.sum(np.where(q > 0, q * (log_q - (log_joint - log_norm)), 0.0)))
    return ELBODecomposition(float(np.sum(log_norm)), elbo, kl)


class EMState(NamedTuple, Generic[P]):
    """Engine state: the current parameters and the iteration counter."""

    params: P
    iteration: int


class EMInfo(NamedTuple):
    """Per-step diagnostics: :math:`\\log p(x \\mid \\theta^t)` from the E-step, and the ELBO check when asked.

    ``elbo_before``/``elbo_after`` are :math:`\\mathcal L(q^{t+1}, \\theta^t)` and
    :math:`\\mathcal L(q^{t+1}, \\theta^{t+1})` (NaN when no ``log_joint`` was given); ``kl_after_e_step`` is
    :math:`\\mathrm{KL}(q^{t+1} \\| p(z \\mid x, \\theta^t))`, zero for an exact E-step (eq. (2.34)).
    """

    log_likelihood: float
    elbo_before: float
    elbo_after: float
    kl_after_e_step: float


@dataclass(frozen=True)
class EMResult(Generic[P]):
    """Result of :func:`run_em`.

    Attributes
    ----------
    params
        Final parameters :math:`\\theta^T`.
    log_likelihood
        :math:`\\log p(x \\mid \\theta^T)` (plus the log-prior for MAP-EM).
    log_likelihood_trace
        Array of length ``num_iterations + 1``: the objective at :math:`\\theta^0, \\dots, \\theta^T`.
    elbo_trace
        Array of length ``num_iterations``: :math:`\\mathcal L(q^{t+1}, \\theta^{t+1})`, NaN without ``log_joint``.
    converged
        Whether the stopping rule fired before ``max_iter``.
    num_iterations
        Number of M-steps taken.
    stop_reason
        Which rule stopped the loop: ``"tol"`` (the change fell below ``tol``) or ``"max_iter"``.
    rule
        The tolerance rule that was checked: ``"relative"`` or ``"absolute"`` (per observation).
    """

    params: P
    log_likelihood: float
    log_likelihood_trace: np.ndarray
    elbo_trace: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


def em_init(params: P) -> EMState[P]:
    """Build the engine state from initial parameters :math:`\\theta^0`."""
    return EMState(params, 0)


def em_step(state: EMState[P], e_step: Callable[[P], EStep], m_step: Callable[[Any, P], P],
            log_joint: Callable[[P], Any] | None = None) -> tuple[EMState[P], EMInfo, EStep]:
    r"""One EM iteration: :math:`q^{t+1} = p(z \mid x, \theta^t)`, then :math:`\theta^{t+1}` from the M-step.

    Parameters
    ----------
    state
        Current :class:`EMState`.
    e_step
        ``e_step(params) -> EStep(q, log_likelihood)``.
    m_step
        ``m_step(q, params) -> new params``; may be partial (generalised EM).
    log_joint
        Optional ``log_joint(params) -> (N, K) array`` of :math:`\log p(x_n, z_n{=}k \mid \theta)` for discrete
        latents; when given, the ELBO before and after the M-step is computed by :func:`elbo_decomposition`
        (this costs two extra evaluations per step: use it for checking, not for speed).

    Returns
    -------
    tuple
        The new state, the step's :class:`EMInfo`, and the E-step output (its ``q`` belongs to
        :math:`\theta^t`).
    """
    e = e_step(state.params)
    new_params = m_step(e.q, state.params)
    before = after = kl = float("nan")
    if log_joint is not None:
        at_old = elbo_decomposition(log_joint(state.params), e.q)
        before, kl = at_old.elbo, at_old.kl
        after = elbo_decomposition(log_joint(new_params), e.q).elbo
    info = EMInfo(float(e.log_likelihood), before, after, kl)
    return EMState(new_params, state.iteration + 1), info, e


def run_em(params: P, e_step: Callable[[P], EStep], m_step: Callable[[Any, P], P], *, max_iter: int = 100,
           tol: float = 1e-6, tol_rule: str = "relative", num_observations: int = 1,
           log_joint: Callable[[P], Any] | None = None, name: str = "EM") -> EMResult[P]:
    r"""Run EM from :math:`\theta^0` until the log-likelihood stops changing or ``max_iter`` M-steps are taken.

    Stopping rule, checked after each M-step on the log-likelihoods of two successive E-steps:

    .. math::
        \frac{|\ell(\theta^{t}) - \ell(\theta^{t-1})|}{s} < \mathrm{tol}, \qquad
        s = |\ell(\theta^{t-1})| \text{ (relative, the course demo's rule)} \text{ or } s = N
        \text{ (absolute change of the per-observation mean, scikit-learn's rule)}.

    A final E-step evaluates :math:`\ell(\theta^T)`, so the trace has ``num_iterations + 1`` entries and
    matches scikit-learn's iteration count when ``tol_rule="absolute"`` and ``num_observations`` is N.

    Parameters
    ----------
    params
        Initial parameters :math:`\theta^0` (any object the steps understand).
    e_step, m_step, log_joint
        See :func:`em_step`.
    max_iter
        Maximum number of M-steps (non-negative).
    tol
        Threshold of the stopping rule; 0 runs exactly ``max_iter`` iterations.
    tol_rule
        ``"relative"`` or ``"absolute"`` (per observation) change, as above (:func:`pgm_ppl.core.has_converged`).
    num_observations
        N, the divisor of the absolute rule.
    name
        The engine's name in the :class:`~pgm_ppl.core.ConvergenceWarning` (``"baum_welch"``, ``"kalman_em"``).

    Returns
    -------
    EMResult

    Raises
    ------
    ValueError
        If ``max_iter`` is negative, ``tol`` is negative, ``tol_rule`` is unknown or ``num_observations`` is not
        positive.

    Warns
    -----
    pgm_ppl.core.ConvergenceWarning
        When ``max_iter`` M-steps pass without the rule firing (not with ``tol=0``, a fixed budget).
    """
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0; got {max_iter}.")
    if tol < 0:
        raise ValueError(f"tol must be >= 0; got {tol}.")
    if num_observations <= 0:
        raise ValueError(f"num_observations must be positive; got {num_observations}.")
    rule = check_tol_rule(tol_rule)
    state = em_init(params)
    trace: list[float] = []
    elbos: list[float] = []
    converged = False
    for _ in range(max_iter):
        state, info, _ = em_step(state, e_step, m_step, log_joint)
        trace.append(info.log_likelihood)
        elbos.append(info.elbo_after)
        if len(trace) > 1:
            scale = 1.0 if rule == "relative" else float(num_observations)  # absolute: on the per-observation mean
            if has_converged(trace[-2] / scale, trace[-1] / scale, tol, rule):
                converged = True
                break
    if not converged and max_iter > 0 and tol > 0:  # tol=0 or max_iter=0 ask for a fixed budget: no warning
        warn_not_converged(name, max_iter, hint=f"the log-likelihood still changed by more than tol={tol} "
                           f"({rule if rule == 'relative' else 'absolute per observation'}); raise max_iter or tol.",
                           stacklevel=user_stacklevel())
    final = e_step(state.params)
    trace.append(float(final.log_likelihood))
    return EMResult(state.params, float(final.log_likelihood), np.asarray(trace), np.asarray(elbos), converged,
                    state.iteration, "tol" if converged else "max_iter", rule)


def _to_numpy(x: Any) -> Any:
    """Detach a torch tensor to numpy; leave anything else unchanged."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x
