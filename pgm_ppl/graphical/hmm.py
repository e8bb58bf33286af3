"""Hidden Markov models: forward-backward, Viterbi, sampling and Baum-Welch, vectorised over sequences.

An HMM with :math:`K` hidden states has the chain factorisation of the notes' state-space model
(course Example 3.3) with a discrete state,

.. math::

    p(x_{1:T}, z_{1:T}) = \\pi_{z_1}\\prod_{t=2}^T A_{z_{t-1}z_t}\\prod_{t=1}^T p(x_t\\mid z_t).

Forward-backward is :func:`pgm_ppl.backend.hidden_markov.forward_backward`, whose forward pass is the
recursion ``dist.HiddenMarkovModel`` runs on Pyro and NumPyro, here on numpy arrays: scaled filtered messages
:math:`\\hat\\alpha_t = p(z_t\\mid x_{1:t})` and :math:`\\log p(x_{1:t})`, with the emissions shifted where
they would under- or overflow. The backward pass runs in the same scaled form,

.. math::

    v_t = A(\\hat b_t\\odot\\hat\\beta_t),\\qquad \\gamma_{t-1} = \\frac{\\hat\\alpha_{t-1}\\odot v_t}{Z_t},\\qquad
    \\hat\\beta_{t-1} = \\frac{v_t}{Z_t},\\qquad Z_t = \\hat\\alpha_{t-1}^\\top v_t,

and :math:`\\gamma_t = p(z_t\\mid x_{1:T})`. Every step is one matrix product over all sequences, so :math:`N`
sequences cost :math:`T` array operations, not :math:`NT`. Viterbi runs in log space,
:math:`\\delta_t(l)=\\max_k[\\delta_{t-1}(k)+\\log A_{kl}]+\\log p(x_t\\mid l)`. An observation of probability
zero (every path through it impossible) is an error naming the sequence and the time step, never a silent
posterior of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import NamedTuple

import numpy as np
from threadpoolctl import ThreadpoolController

from pgm_ppl.backend import hidden_markov
from pgm_ppl.core.em import EStep, run_em
from pgm_ppl.core.validation import check_probability_rows

__all__ = ["ForwardBackwardResult", "ViterbiResult", "forward_backward", "viterbi", "CategoricalHMM",
           "GaussianHMM", "BaumWelchResult", "baum_welch"]

_ops = hidden_markov.numpy_ops


class ForwardBackwardResult(NamedTuple):
    """Result of :func:`forward_backward`.

    Attributes
    ----------
    posterior
        :math:`\\gamma_t(k)=p(z_t=k\\mid x_{1:T})`, shape ``(N, T, K)`` (a strided view of a time-major array).
    expected_transitions
        :math:`\\sum_n\\sum_t p(z_{t}=k, z_{t+1}=l\\mid x^{(n)}_{1:T})`, summed over the sequences, shape
        ``(K, K)`` (the Baum-Welch sufficient statistic; call per sequence for per-sequence counts).
    log_likelihood
        :math:`\\log p(x_{1:T})` per sequence, shape ``(N,)``.
    """

    posterior: np.ndarray
    expected_transitions: np.ndarray
    log_likelihood: np.ndarray


class ViterbiResult(NamedTuple):
    """Result of :func:`viterbi`: MAP paths ``(N, T)`` and :math:`\\log p(x, z^\\star)` ``(N,)``."""

    path: np.ndarray
    log_joint: np.ndarray


def _check(log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray):
    log_initial = np.asarray(log_initial, dtype=np.float64)
    log_transition = np.asarray(log_transition, dtype=np.float64)
    log_emission = np.asarray(log_emission, dtype=np.float64)
    k = log_initial.shape[-1] if log_initial.ndim == 1 else -1
    if log_initial.ndim != 1 or log_transition.shape != (k, k):
        raise ValueError(f"log_initial must have shape (K,) and log_transition (K, K); got "
                         f"{log_initial.shape} and {log_transition.shape}.")
    if log_emission.ndim == 2:
        log_emission = log_emission[None]
    if log_emission.ndim != 3 or log_emission.shape[-1] != k or log_emission.shape[1] < 1:
        raise ValueError(f"log_emission must have shape (N, T, K) with K={k}, got {log_emission.shape}.")
    for name, value in (("log_initial", log_initial), ("log_transition", log_transition),
                        ("log_emission", log_emission)):
        if value.size and not value.max() < np.inf:  # one pass: the max is NaN or +inf if any entry is
            where = tuple(int(i) for i in np.argwhere(np.isnan(value) | (value == np.inf))[0])
            raise ValueError(f"{name}: expected log-probabilities (finite or -inf), got {value[where]} at index "
                             f"{where[0] if len(where) == 1 else where}.")
    return log_initial, log_transition, log_emission


@cache
def _blas() -> ThreadpoolController:
    """Handle on the BLAS thread pools: the many thin (N, K) x (K, K) products run fastest on one thread."""
    return ThreadpoolController()


def _log_likelihood(log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray) -> np.ndarray:
    """:math:`\\log p(x^{(n)}_{1:T})`, ``(N,)``; ``-inf`` for an impossible sequence (no error)."""
    with _blas().limit(limits=1, user_api="blas"), np.errstate(divide="ignore"):
        return hidden_markov.log_likelihood(_ops, log_initial, log_transition, log_emission)


def _first_impossible_step(log_p: np.ndarray) -> tuple[int, int] | None:
    """(sequence, time step) of the first observation of probability zero, or None; ``log_p`` is ``(T, N)``."""
    dead = log_p == -np.inf
    if not dead.any():
        return None
    steps = np.where(dead.any(0), dead.argmax(0), dead.shape[0])
    n = int(steps.argmin())
    return n, int(steps[n])


def forward_backward(log_initial: np.ndarray, log_transition: np.ndarray,
                     log_emission: np.ndarray) -> ForwardBackwardResult:
    """Posterior marginals and log-likelihoods of many sequences at once (forward-backward in log space).

    Parameters
    ----------
    log_initial
        :math:`\\log\\pi`, shape ``(K,)``.
    log_transition
        :math:`\\log A`, shape ``(K, K)``, rows index the previous state; ``-inf`` marks a forbidden move.
    log_emission
        :math:`\\log p(x_{n,t}\\mid z=k)`, shape ``(N, T, K)`` (or ``(T, K)`` for one sequence).

    Raises
    ------
    ValueError
        If the shapes disagree, an entry is NaN or ``+inf``, or a sequence has probability zero: the message
        names the sequence and the first time step whose observation no path can reach (its
        :math:`\\log p` is ``-inf`` and it has no posterior).

    See Also
    --------
    pgm_ppl.backend.hidden_markov.forward_backward : the recursion (its forward pass shared with
        ``dist.HiddenMarkovModel``).
    """
    log_initial, log_transition, log_emission = _check(log_initial, log_transition, log_emission)
    with _blas().limit(limits=1, user_api="blas"):
        posterior, counts, log_p = hidden_markov.forward_backward(log_initial, log_transition, log_emission)
    impossible = _first_impossible_step(log_p)
    if impossible is not None:
        n, t = impossible
        raise ValueError(f"x: sequence {n}, time step {t}: the observation is impossible under the model "
                         f"(probability zero given the steps before it), so log p(x) = -inf and there is no "
                         "posterior; check the emission probabilities that are exactly zero and the forbidden "
                         "transitions.")
    return ForwardBackwardResult(posterior, counts, log_p[-1])


def viterbi(log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray) -> ViterbiResult:
    """Most probable state paths :math:`\\arg\\max_z p(z\\mid x)` of many sequences (log-space max-product).

    See Also
    --------
    forward_backward : the same arguments; sum instead of max.
    """
    log_initial, log_transition, log_emission = _check(log_initial, log_transition, log_emission)
    n, t_len, k = log_emission.shape
    pointers = np.empty((t_len, n, k), dtype=np.min_scalar_type(k))
    delta = log_initial + log_emission[:, 0]
    for t in range(1, t_len):
        scores = delta[:, :, None] + log_transition
        pointers[t] = scores.argmax(axis=1)
        delta = np.take_along_axis(scores, pointers[t][:, None, :].astype(np.intp), 1)[:, 0] + log_emission[:, t]
    path = np.empty((n, t_len), dtype=np.int64)
    path[:, -1] = delta.argmax(axis=1)
    for t in range(t_len - 1, 0, -1):
        path[:, t - 1] = pointers[t][np.arange(n), path[:, t]]
    return ViterbiResult(path, delta.max(axis=1))


def _finite(name: str, value: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: expected finite values, got {value[where]} at index "
                         f"{where[0] if len(where) == 1 else where}.")
    return value


def _check_probs(name: str, p: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Rows of probabilities as float64, renormalised to sum to one (:func:`pgm_ppl.core.validation.check_probability_rows`:
    a row's sum may miss 1 by rounding at the input's precision; float32 rows [0.33333334, 0.66666669] gave
    log p = +3e-8 before renormalising)."""
    p = np.asarray(p)
    _finite(name, p.astype(np.float64))
    if p.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {p.shape}.")
    return check_probability_rows(p, name)


def _sample_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``probabilities`` (inverse CDF, the sampler of the state paths)."""
    cdf = np.cumsum(probabilities, axis=-1)
    u = rng.random(cdf.shape[:-1] + (1,)) * cdf[..., -1:]
    return np.minimum((u > cdf).sum(axis=-1), cdf.shape[-1] - 1)


class _MarkovChainMixin:
    """Inference and sampling shared by the HMMs: they differ only in ``log_emission``, ``sample`` and ``m_step``."""

    initial: np.ndarray
    transition: np.ndarray

    @property
    def num_states(self) -> int:
        """Number of hidden states :math:`K`."""
        return self.initial.shape[0]

    def _check_chain(self) -> None:
        k = np.asarray(self.initial).shape[-1]
        object.__setattr__(self, "initial", _check_probs("initial", self.initial, (k,)))
        object.__setattr__(self, "transition", _check_probs("transition", self.transition, (k, k)))

    def _logs(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore"):
            return np.log(self.initial), np.log(self.transition)

    def forward_backward(self, x: np.ndarray) -> ForwardBackwardResult:
        """:func:`forward_backward` on observations ``x`` (first axes ``(N, T)``)."""
        return forward_backward(*self._logs(), self.log_emission(x))

    def viterbi(self, x: np.ndarray) -> ViterbiResult:
        """:func:`viterbi` on observations ``x``."""
        return viterbi(*self._logs(), self.log_emission(x))

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\log p(x_{1:T})` per sequence (forward pass only; ``-inf`` for an impossible sequence)."""
        log_emission = self.log_emission(x)
        return _log_likelihood(*self._logs(), log_emission)

    def sample_states(self, num_sequences: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """Hidden paths, shape ``(num_sequences, length)``, by :func:`pgm_ppl.backend.hidden_markov.sample_states`."""
        if int(num_sequences) < 1 or int(length) < 1:
            raise ValueError(f"num_sequences and length must be positive, got {num_sequences}, {length}.")
        uniforms = rng.random((int(num_sequences), int(length)))
        with np.errstate(divide="ignore"):
            return hidden_markov.sample_states(_ops, uniforms, *self._logs()).astype(np.int64)

    def _chain_m_step(self, fb: ForwardBackwardResult) -> dict:
        counts = fb.expected_transitions
        rows = counts.sum(1, keepdims=True)
        transition = np.where(rows > 0, counts / np.where(rows > 0, rows, 1.0), self.transition)
        return {"initial": fb.posterior[:, 0].mean(0), "transition": transition}


@dataclass(frozen=True, eq=False)
class CategoricalHMM(_MarkovChainMixin):
    """HMM with categorical emissions :math:`p(x_t=m\\mid z_t=k)=B_{km}`.

    Parameters
    ----------
    initial
        :math:`\\pi`, shape ``(K,)``.
    transition
        :math:`A`, shape ``(K, K)``.
    emission
        :math:`B`, shape ``(K, M)``.

    Raises
    ------
    ValueError
        If a parameter has the wrong shape, a NaN or infinite entry (named), or rows that are not probability
        vectors.
    """

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    def __post_init__(self) -> None:
        self._check_chain()
        emission = np.asarray(self.emission)
        object.__setattr__(self, "emission", _check_probs("emission", emission, (self.num_states, emission.shape[-1])))

    def log_emission(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\log B_{k,x_{n,t}}`, shape ``(N, T, K)``, from integer observations ``(N, T)``."""
        x = np.asarray(x)
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"x must be an integer array of shape (N, T), got {x.dtype} {x.shape}.")
        if x.min() < 0 or x.max() >= self.emission.shape[1]:
            raise ValueError(f"x holds symbols outside [0, {self.emission.shape[1] - 1}].")
        with np.errstate(divide="ignore"):
            return np.log(self.emission.T)[x]

    def sample(self, num_sequences: int, length: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(z, x)``, both of shape ``(num_sequences, length)``."""
        rng = np.random.default_rng(seed)
        z = self.sample_states(num_sequences, length, rng)
        return z, _sample_rows(self.emission[z], rng)

    def m_step(self, x: np.ndarray, fb: ForwardBackwardResult) -> CategoricalHMM:
        """Baum-Welch update: :math:`B_{km}\\propto\\sum_{n,t}\\gamma_{nt}(k)\\mathbb 1\\{x_{nt}=m\\}`.

        A state with zero expected count keeps its emission row (no 0/0).
        """
        gamma = fb.posterior.reshape(-1, self.num_states)
        counts = np.stack([np.bincount(np.asarray(x).ravel(), weights=gamma[:, k], minlength=self.emission.shape[1])
                           for k in range(self.num_states)])
        rows = counts.sum(1, keepdims=True)
        emission = np.where(rows > 0, counts / np.where(rows > 0, rows, 1.0), self.emission)
        return replace(self, emission=emission, **self._chain_m_step(fb))


@dataclass(frozen=True, eq=False)
class GaussianHMM(_MarkovChainMixin):
    """HMM with diagonal Gaussian emissions :math:`x_t\\mid z_t=k\\sim\\mathcal N(\\mu_k,\\mathrm{diag}\\,\\sigma_k^2)`.

    Parameters
    ----------
    initial, transition
        As in :class:`CategoricalHMM`.
    means, variances
        Shape ``(K, D)``; observations have shape ``(N, T, D)``.

    Raises
    ------
    ValueError
        If a parameter has the wrong shape or a NaN or infinite entry (named), or a variance is not positive.
    """

    initial: np.ndarray
    transition: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    def __post_init__(self) -> None:
        self._check_chain()
        means = _finite("means", np.asarray(self.means, dtype=np.float64))
        variances = _finite("variances", np.asarray(self.variances, dtype=np.float64))
        if means.ndim != 2 or means.shape[0] != self.num_states or variances.shape != means.shape:
            raise ValueError(f"means and variances must both have shape (K, D) with K={self.num_states}; "
                             f"got {means.shape} and {variances.shape}.")
        if (variances <= 0).any():
            raise ValueError("variances must be positive.")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "variances", variances)

    def log_emission(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\log\\mathcal N(x_{nt};\\mu_k,\\sigma_k^2)`, ``(N, T, K)``, for ``x`` of shape ``(N, T, D)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[-1] != self.means.shape[1]:
            raise ValueError(f"x must have shape (N, T, D) with D={self.means.shape[1]}, got {x.shape}.")
        z = (x[..., None, :] - self.means) ** 2 / self.variances
        return -0.5 * (z + np.log(2 * np.pi * self.variances)).sum(-1)

    def sample(self, num_sequences: int, length: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``z`` of shape ``(N, T)`` and ``x`` of shape ``(N, T, D)``."""
        rng = np.random.default_rng(seed)
        z = self.sample_states(num_sequences, length, rng)
        x = self.means[z] + np.sqrt(self.variances[z]) * rng.standard_normal(z.shape + (self.means.shape[1],))
        return z, x

    def m_step(self, x: np.ndarray, fb: ForwardBackwardResult, variance_floor: float = 1e-9) -> GaussianHMM:
        """Baum-Welch update: responsibility-weighted means and variances, floored at ``variance_floor`` times each
        column's scale (its variance; its mean square when it is constant; 1 when it is all zeros), so the floor
        means the same for data in any unit. (One scale for all columns, their mean variance, floored a constant
        column of zeros beside a column in units of 1e8 at 1e6, above its starting variance 1: the log-likelihood
        fell by 20 in one step.)

        Means are computed as :math:`c + \\sum_n\\gamma_{nk}(x_n - c)/\\sum_n\\gamma_{nk}` with :math:`c` the first
        row, so a constant column gets its value back exactly and the rounding error of a mean scales with the
        data's spread, not their magnitude (a mean of a constant 1.5 one ulp off, squared, was a variance of 5e-32
        against a floor of 9e-82, and the log-likelihood fell).

        A state with zero expected count (unreachable) keeps its mean and variance: no 0/0, no NaN. Variances are
        weighted sums of squared deviations (not :math:`E[x^2] - \\mu^2`, which cancels for data far from 0).
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.means.shape[1])
        gamma = fb.posterior.reshape(-1, self.num_states)
        weight = gamma.sum(0)[:, None]
        seen = weight > 0
        safe = np.where(seen, weight, 1.0)
        center = x[0] if len(x) else np.zeros(x.shape[1])
        means = center + gamma.T @ (x - center) / safe
        variance, square = x.var(0), (x ** 2).mean(0)
        scale = np.where(variance > 0, variance, np.where(square > 0, square, 1.0))     # (D,)
        deviations = (x[:, None, :] - means[None]) ** 2                                  # (N T, K, D)
        variances = np.maximum(np.einsum("nk,nkd->kd", gamma, deviations) / safe, variance_floor * scale)
        means, variances = np.where(seen, means, self.means), np.where(seen, variances, self.variances)
        return replace(self, means=means, variances=variances, **self._chain_m_step(fb))


@dataclass(frozen=True, slots=True)
class BaumWelchResult:
    """Result of :func:`baum_welch`.

    Attributes
    ----------
    model
        The fitted HMM.
    log_likelihood
        :math:`\\sum_n\\log p(x^{(n)})` at the start and after each M-step, length ``num_iterations + 1``; the
        last entry is the fitted model's.
    converged, num_iterations, stop_reason, rule
        How the EM loop stopped: the fields of :class:`pgm_ppl.core.em.EMResult` (the loop this runs on).
    """

    model: CategoricalHMM | GaussianHMM
    log_likelihood: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


def baum_welch(model: CategoricalHMM | GaussianHMM, x: np.ndarray, *, max_iter: int = 100,
               tol: float = 1e-8, tol_rule: str = "relative") -> BaumWelchResult:
    """Baum-Welch EM (course Ch. 2): E-step by :func:`forward_backward` on all sequences, closed-form M-step.

    It runs on the generic EM loop :func:`pgm_ppl.core.em.run_em`. The log-likelihood
    :math:`\\sum_n\\log p(x^{(n)})` never decreases (course eq. (2.35)-(2.37)); iteration stops when it changes by
    less than ``tol`` times its previous magnitude (``tol_rule="relative"``, the default) or by less than ``tol``
    (``tol_rule="absolute"``), checked by :func:`pgm_ppl.core.has_converged`.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`CategoricalHMM` or :class:`GaussianHMM`.
    ValueError
        If a sequence is impossible under ``model`` (the message names the sequence and the time step).

    Warns
    -----
    pgm_ppl.core.ConvergenceWarning
        When ``max_iter`` M-steps pass without the rule firing.
    """
    if not isinstance(model, (CategoricalHMM, GaussianHMM)):
        raise TypeError(f"model must be a CategoricalHMM or GaussianHMM, got {type(model).__name__}.")

    def e_step(current: CategoricalHMM | GaussianHMM) -> EStep:
        fb = current.forward_backward(x)
        return EStep(fb, float(fb.log_likelihood.sum()))

    result = run_em(model, e_step, lambda fb, current: current.m_step(x, fb), max_iter=int(max_iter), tol=tol,
                    tol_rule=tol_rule, name="baum_welch")
    return BaumWelchResult(result.params, result.log_likelihood_trace, result.converged, result.num_iterations,
                           result.stop_reason, result.rule)
