"""Hidden Markov models: forward-backward, Viterbi, sampling and Baum-Welch, vectorised over sequences.

An HMM with :math:`K` hidden states has the chain factorisation of the notes' state-space model
(course Example 3.3) with a discrete state,

.. math::

    p(x_{1:T}, z_{1:T}) = \\pi_{z_1}\\prod_{t=2}^T A_{z_{t-1}z_t}\\prod_{t=1}^T p(x_t\\mid z_t).

The forward recursion is run in scaled form: with :math:`b_t(k)=p(x_t\\mid z_t=k)e^{-s_t}` (the log
emissions shifted by their maximum :math:`s_t`, so they cannot underflow),

.. math::

    \\hat\\alpha_t = \\frac{(\\hat\\alpha_{t-1}^\\top A)\\odot b_t}{c_t},\\qquad
    \\hat\\beta_t = \\frac{A(b_{t+1}\\odot\\hat\\beta_{t+1})}{c_{t+1}},\\qquad
    \\log p(x_{1:T}) = \\sum_t(\\log c_t + s_t),

and :math:`\\gamma_t=\\hat\\alpha_t\\odot\\hat\\beta_t=p(z_t\\mid x_{1:T})`. Every step is one batched matrix
product over all sequences, so :math:`N` sequences cost :math:`T` array operations, not :math:`NT`. Viterbi
runs in log space, :math:`\\delta_t(l)=\\max_k[\\delta_{t-1}(k)+\\log A_{kl}]+\\log p(x_t\\mid l)`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import NamedTuple

import numpy as np
from threadpoolctl import ThreadpoolController

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import warn_not_converged

__all__ = ["ForwardBackwardResult", "ViterbiResult", "forward_backward", "viterbi", "CategoricalHMM",
           "GaussianHMM", "BaumWelchResult", "baum_welch"]


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
    return log_initial, log_transition, log_emission


@cache
def _blas() -> ThreadpoolController:
    """Handle on the BLAS thread pools: the many thin (K, K) x (K, N) products run fastest on one thread."""
    return ThreadpoolController()


def forward_backward(log_initial: np.ndarray, log_transition: np.ndarray,
                     log_emission: np.ndarray) -> ForwardBackwardResult:
    """Posterior marginals and log-likelihoods of many sequences at once (scaled forward-backward).

    Parameters
    ----------
    log_initial
        :math:`\\log\\pi`, shape ``(K,)``.
    log_transition
        :math:`\\log A`, shape ``(K, K)``, rows index the previous state.
    log_emission
        :math:`\\log p(x_{n,t}\\mid z=k)`, shape ``(N, T, K)`` (or ``(T, K)`` for one sequence).
    """
    log_initial, log_transition, log_emission = _check(log_initial, log_transition, log_emission)
    with _blas().limit(limits=1, user_api="blas"):
        return _forward_backward(log_initial, log_transition, log_emission)


def _forward_backward(log_initial: np.ndarray, log_transition: np.ndarray,
                      log_emission: np.ndarray) -> ForwardBackwardResult:
    n, t_len, k = log_emission.shape
    a = np.exp(log_transition)
    a_t = np.ascontiguousarray(a.T)
    # Layout (T, K, N): each step works on one contiguous (K, N) block, the reductions over states are
    # elementwise operations on rows of length N, and the transition is one (K, K) x (K, N) product.
    # The copy holds b_t (forward pass), then w_{t-1} = b_t * beta_t / c_t (backward pass).
    work = np.ascontiguousarray(log_emission.transpose(1, 2, 0))
    shift = work.max(axis=1, keepdims=True)
    shift[~np.isfinite(shift)] = 0.0
    alpha = np.empty((t_len, k, n))
    scale = np.empty((t_len, 1, n))
    for t in range(t_len):
        np.subtract(work[t], shift[t], out=work[t])
        np.exp(work[t], out=work[t])
        np.multiply(a_t @ alpha[t - 1] if t else np.exp(log_initial)[:, None], work[t], out=alpha[t])
        np.sum(alpha[t], axis=0, keepdims=True, out=scale[t])
        alpha[t] /= np.where(scale[t] > 0, scale[t], 1.0)
    safe = np.where(scale > 0, scale, 1.0)
    beta = np.ones((k, n))
    counts = np.zeros((k, k))
    for t in range(t_len - 1, 0, -1):
        work[t] *= beta
        work[t] /= safe[t]  # w_{t-1} = b_t * beta_t / c_t
        counts += alpha[t - 1] @ work[t].T  # sum over sequences of alpha_{t-1} w_{t-1}^T
        beta = a @ work[t]
        alpha[t - 1] *= beta  # gamma_{t-1} = alpha_{t-1} * beta_{t-1}
    counts *= a
    with np.errstate(divide="ignore"):
        log_lik = (np.log(scale[:, 0]) + shift[:, 0]).sum(axis=0)
    return ForwardBackwardResult(alpha.transpose(2, 0, 1), counts, log_lik)


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


def _check_probs(name: str, p: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {p.shape}.")
    if (p < 0).any() or not np.allclose(p.sum(-1), 1.0, atol=1e-8):
        raise ValueError(f"{name}: rows must be probability vectors (non-negative, summing to 1).")
    return p


def _sample_rows(cdf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of a cumulative table (inverse-CDF)."""
    u = rng.random((cdf.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), cdf.shape[1] - 1)


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
        """:math:`\\log p(x_{1:T})` per sequence."""
        return self.forward_backward(x).log_likelihood

    def sample_states(self, num_sequences: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """Hidden paths, shape ``(num_sequences, length)``, drawn step by step for all sequences at once."""
        if int(num_sequences) < 1 or int(length) < 1:
            raise ValueError(f"num_sequences and length must be positive, got {num_sequences}, {length}.")
        z = np.empty((int(num_sequences), int(length)), dtype=np.int64)
        z[:, 0] = _sample_rows(np.broadcast_to(np.cumsum(self.initial), (int(num_sequences), self.num_states)), rng)
        cdf = np.cumsum(self.transition, axis=1)
        for t in range(1, int(length)):
            z[:, t] = _sample_rows(cdf[z[:, t - 1]], rng)
        return z

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
    """

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    def __post_init__(self) -> None:
        self._check_chain()
        emission = np.asarray(self.emission, dtype=np.float64)
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
        cdf = np.cumsum(self.emission, axis=1)[z.ravel()]
        return z, _sample_rows(cdf, rng).reshape(z.shape)

    def m_step(self, x: np.ndarray, fb: ForwardBackwardResult) -> CategoricalHMM:
        """Baum-Welch update: :math:`B_{km}\\propto\\sum_{n,t}\\gamma_{nt}(k)\\mathbb 1\\{x_{nt}=m\\}`."""
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
    """

    initial: np.ndarray
    transition: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    def __post_init__(self) -> None:
        self._check_chain()
        means = np.asarray(self.means, dtype=np.float64)
        variances = np.asarray(self.variances, dtype=np.float64)
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
        """Baum-Welch update: responsibility-weighted means and variances (floored at ``variance_floor``)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.means.shape[1])
        gamma = fb.posterior.reshape(-1, self.num_states)
        weight = gamma.sum(0)[:, None]
        means = gamma.T @ x / weight
        variances = np.maximum(gamma.T @ x ** 2 / weight - means ** 2, variance_floor)
        return replace(self, means=means, variances=variances, **self._chain_m_step(fb))


class BaumWelchResult(NamedTuple):
    """Result of :func:`baum_welch`: the fitted model and the total log-likelihood before each M-step."""

    model: CategoricalHMM | GaussianHMM
    log_likelihood: np.ndarray
    converged: bool
    num_iterations: int


def baum_welch(model: CategoricalHMM | GaussianHMM, x: np.ndarray, *, max_iterations: int = 100,
               tol: float = 1e-8) -> BaumWelchResult:
    """Baum-Welch EM (course Ch. 2): E-step by :func:`forward_backward` on all sequences, closed-form M-step.

    The log-likelihood :math:`\\sum_n\\log p(x^{(n)})` never decreases (course eq. (2.35)-(2.37)); iteration stops
    when it rises by less than ``tol`` times its magnitude.
    """
    if not isinstance(model, (CategoricalHMM, GaussianHMM)):
        raise TypeError(f"model must be a CategoricalHMM or GaussianHMM, got {type(model).__name__}.")
    history = []
    converged = False
    for _ in range(int(max_iterations)):
        fb = model.forward_backward(x)
        history.append(float(fb.log_likelihood.sum()))
        if len(history) > 1 and history[-1] - history[-2] < tol * abs(history[-1]):
            converged = True
            break
        model = model.m_step(x, fb)
    if not converged:
        warn_not_converged("baum_welch", int(max_iterations), hint=f"the log-likelihood still rose by more than "
                           f"tol={tol} times its magnitude; raise max_iterations.", stacklevel=user_stacklevel())
    return BaumWelchResult(model, np.asarray(history), converged, len(history))
