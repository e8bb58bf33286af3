r"""The state-marginalised likelihood of a hidden Markov model, written once for both backends.

A homogeneous HMM with :math:`K` states (course Example 3.3 with a discrete state) has

.. math::

    p(x_{1:T}) = \sum_{z_{1:T}} \pi_{z_1} p(x_1\mid z_1)\prod_{t=2}^T A_{z_{t-1}z_t}\,p(x_t\mid z_t)
               = \pi_1^\top M_2 M_3\cdots M_T\,\mathbf 1,
    \qquad \pi_1 = \pi\odot b_1,\quad (M_t)_{kl} = A_{kl}\,b_t(l),\quad b_t(l) = p(x_t\mid z_t=l).

We run the forward recursion of the notes in scaled form: with the emissions shifted by their largest log,
:math:`\hat b_t = b_t e^{-s_t}`, :math:`s_t = \max_l\log b_t(l)` (so they cannot underflow),

.. math:: \hat\alpha_1 = \frac{\pi\odot\hat b_1}{c_1},\qquad
          \hat\alpha_t = \frac{(\hat\alpha_{t-1}^\top A)\odot\hat b_t}{c_t},\qquad
          \log p(x_{1:t}) = \sum_{u\le t}(\log c_u + s_u),

where :math:`c_t` makes :math:`\hat\alpha_t = p(z_t\mid x_{1:t})` sum to one: one vector-matrix product per
step for all sequences at once (:math:`O(TNK^2)`). The steps run through ``ops.scan``: one
compiled ``jax.lax.scan`` on NumPyro, a loop on PyTorch. Pyro's ``DiscreteHMM`` multiplies the :math:`M_t`
in pairwise rounds instead (depth :math:`\log_2 T`, made for GPUs), which costs :math:`K` times more
arithmetic; on CPU the recursion is faster (``benchmarks/bench_graphical.py``). The functions take the
backend's ``ops`` module (:mod:`pgm_ppl.backend.ops_torch` or :mod:`pgm_ppl.backend.ops_jax`) as their first
argument; :data:`numpy_ops` is the small numpy namespace that :func:`forward_backward` (the smoother of the
classical HMM in :mod:`pgm_ppl.graphical.hmm`: forward-backward, Baum-Welch) passes, so it runs this same
recursion before its backward pass (``benchmarks/bench_hmm.py``).

Hidden-state paths are drawn here too, once for every array library (:func:`sample_states`): the caller draws
the uniforms with its own generator and the inverse-CDF step :math:`z_t = \#\{l : u_t > F(l \mid z_{t-1})\}`
runs through ``ops.scan``.

Probabilities may be exactly zero (a left-to-right chain has :math:`\log A_{kl}=-\infty`): the recursion keeps
``-inf`` as ``-inf`` and never produces NaN, so an impossible sequence scores :math:`\log p = -\infty`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any, TypeAlias

import numpy as np
import scipy.special

from pgm_ppl.backend.arrays import Array

__all__ = ["check_shapes", "log_normalise", "forward", "log_likelihood", "forward_backward", "sample_states",
           "numpy_ops"]

#: The array namespace the functions take: the module :mod:`pgm_ppl.backend.ops_torch` or
#: :mod:`pgm_ppl.backend.ops_jax`, or the namespace :data:`numpy_ops`.
Ops: TypeAlias = ModuleType | SimpleNamespace


def _numpy_scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any) -> tuple[Any, Any]:
    """``python_scan`` writing each step's output straight into one preallocated array (no list to stack)."""
    steps = len(xs[0]) if isinstance(xs, tuple) else len(xs)
    carry, out, single = init, None, False
    for t, x in enumerate(zip(*xs) if isinstance(xs, tuple) else xs):
        carry, y = f(carry, x)
        if y is None:
            continue
        if out is None:
            single = not isinstance(y, tuple)
            out = tuple(np.empty((steps,) + np.shape(v), dtype=np.result_type(v)) for v in ((y,) if single else y))
        for buffer, v in zip(out, (y,) if single else y):
            buffer[t] = v
    return carry, (out[0] if single else out) if out is not None else None


def _numpy_sum(x: np.ndarray, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> np.ndarray:
    """``np.sum``; over the last axis of a float array as a matrix-vector product (numpy's reduction over a short
    trailing axis is several times slower, and the forward recursion does one per step)."""
    if axis == -1 and x.dtype.kind == "f" and x.ndim >= 1:
        total = x @ np.ones(x.shape[-1], dtype=x.dtype)
        return total[..., None] if keepdims else total
    return np.sum(x, axis=axis, keepdims=keepdims)


#: The operations the recursion needs, on numpy arrays (the numpy counterpart of ``ops_torch``/``ops_jax``).
numpy_ops = SimpleNamespace(
    arange=np.arange, clip=np.clip, concatenate=np.concatenate, cumsum=np.cumsum, exp=np.exp,
    expand_dims=np.expand_dims, log=np.log, logsumexp=scipy.special.logsumexp, matmul=np.matmul,
    max=np.max, moveaxis=np.moveaxis, scan=_numpy_scan, sum=_numpy_sum, where=np.where)


def check_shapes(initial_shape: tuple[int, ...], transition_shape: tuple[int, ...],
                 emission_batch_shape: tuple[int, ...], num_time_steps: int) -> tuple[tuple[int, ...], int]:
    """Validate the parameter shapes; return the distribution's batch shape and the number of states.

    ``initial_shape`` is ``(..., K)``, ``transition_shape`` ``(..., K, K)`` and ``emission_batch_shape``
    ``(K,)`` or ``(..., T or 1, K)``: the axis before the states is time.
    """
    if int(num_time_steps) != num_time_steps or num_time_steps < 1:
        raise ValueError(f"num_time_steps must be a positive integer, got {num_time_steps!r}.")
    if len(initial_shape) < 1:
        raise ValueError("initial_logits must have a trailing axis of K states.")
    k = initial_shape[-1]
    if tuple(transition_shape[-2:]) != (k, k):
        raise ValueError(f"transition_logits must end in ({k}, {k}) for K={k} states, got {tuple(transition_shape)}.")
    if len(emission_batch_shape) < 1 or emission_batch_shape[-1] != k:
        raise ValueError(f"the emission distribution's batch shape must end in K={k} states, "
                         f"got {tuple(emission_batch_shape)}.")
    if len(emission_batch_shape) >= 2 and emission_batch_shape[-2] not in (1, num_time_steps):
        raise ValueError(f"the emission batch shape must be (..., T or 1, K) with T={num_time_steps}, got "
                         f"{tuple(emission_batch_shape)}; the axis before the states is time.")
    shapes = (tuple(initial_shape[:-1]), tuple(transition_shape[:-2]), tuple(emission_batch_shape[:-2]))
    try:
        return np.broadcast_shapes(*shapes), k
    except ValueError:
        raise ValueError(f"HMM parameter batch shapes {shapes} do not broadcast.") from None


def log_normalise(ops: Ops, logits: Array) -> Array:
    """``logits - logsumexp(logits)`` over the last axis: log-probabilities from unnormalised logits."""
    return logits - ops.logsumexp(logits, axis=-1, keepdims=True)


def forward(ops: Ops, log_initial: Array, log_transition: Array, log_emission: Array, *,
            keep_all: bool = False) -> tuple[Array, Array]:
    r"""The scaled forward recursion: filtered :math:`\hat\alpha_t = p(z_t\mid x_{1:t})` and :math:`\log p(x_{1:t})`.

    A step whose observation has probability zero given the past has :math:`c_t = 0`: from there on
    :math:`\hat\alpha` is zero and :math:`\log p = -\infty` (never NaN).

    Parameters
    ----------
    ops
        The array namespace (:mod:`pgm_ppl.backend.ops_torch`, :mod:`pgm_ppl.backend.ops_jax` or
        :data:`numpy_ops`).
    log_initial, log_transition, log_emission
        As in :func:`log_likelihood`.
    keep_all
        Return every step, time first, instead of the last one.

    Returns
    -------
    tuple
        :math:`\hat\alpha` of shape ``(..., K)`` and :math:`\log p(x_{1:T})` of shape ``(...)``; with ``keep_all``,
        shapes ``(T, ..., K)`` and ``(T, ...)`` holding every :math:`t`.
    """
    # the shift is clipped so that a step that is -inf in every state gives b = 0 (then c = 0), not nan
    shift = ops.clip(ops.max(log_emission, axis=-1, keepdims=True), -1e30, None)
    return _filter(ops, log_initial, ops.exp(log_transition), ops.exp(log_emission - shift), shift, keep_all)


def _filter(ops: Ops, log_initial: Array, transition: Array, emission: Array, shift: Array,
            keep_all: bool, keep_normalisers: bool = False) -> tuple[Array, ...]:
    r"""The recursion of :func:`forward` on the shifted emissions :math:`\hat b_t = b_t e^{-s_t}` ``(..., T, K)``
    and the shifts :math:`s_t` ``(..., T, 1)``. With ``keep_normalisers`` (and ``keep_all``) it also returns
    every normaliser :math:`c_t`, ``(T, ..., 1)``, which :func:`forward_backward`'s backward pass divides by."""
    batched = len(transition.shape) > 2

    def step(carry, inputs):
        # the carry holds the prediction p(z_t | x_{1:t-1}) (pi at t = 1), so every step, the first included,
        # is the same update and the scan yields all T steps with nothing to stitch on afterwards
        predicted, _, log_p = carry
        emission_t, shift_t = inputs
        alpha = predicted * emission_t
        c = ops.sum(alpha, axis=-1, keepdims=True)
        alpha = alpha / ops.where(c > 0, c, 1.0)
        log_p = log_p + ops.log(c)[..., 0] + shift_t[..., 0]
        predicted = (ops.matmul(ops.expand_dims(alpha, -2), transition)[..., 0, :] if batched
                     else ops.matmul(alpha, transition))
        kept = ((alpha, log_p, c) if keep_normalisers else (alpha, log_p)) if keep_all else None
        return (predicted, alpha, log_p), kept

    # the initial carry has the full batch shape (that of one emission step); the middle entry is a placeholder
    zero = 0.0 * shift[..., 0, :]
    initial = ops.exp(log_initial) + zero
    (_, last_alpha, last_log_p), every = ops.scan(
        step, (initial, initial, zero[..., 0]), (ops.moveaxis(emission, -2, 0), ops.moveaxis(shift, -2, 0)))
    return every if keep_all else (last_alpha, last_log_p)


#: :func:`forward_backward` runs unshifted where every normaliser :math:`c_t` of a sequence lies in this range.
_UNSHIFTED_RANGE = (float(np.exp(-100.0)), float(np.exp(100.0)))


def forward_backward(log_initial: np.ndarray, log_transition: np.ndarray,
                     log_emission: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Smoothed marginals :math:`\gamma_t = p(z_t\mid x_{1:T})` of many sequences, on numpy arrays.

    The forward pass is :func:`forward`'s recursion (:math:`\hat\alpha_t`, the normalisers :math:`c_t` and
    :math:`\log p(x_{1:t})`); the backward pass (Rabiner 1989, eqs. 91-92; course Ch. 2) reuses the same scaled
    emissions :math:`\hat b_t` (computed once) and divides by the forward pass's :math:`c_t`:

    .. math::

        w_t = \frac{\hat b_t\odot\hat\beta_t}{c_t},\qquad \hat\beta_{t-1} = A w_t,\qquad
        \gamma_{t-1} = \hat\alpha_{t-1}\odot\hat\beta_{t-1},\qquad
        \xi_t(k, l) = \hat\alpha_{t-1}(k)\,A_{kl}\,w_t(l),

    with :math:`\hat\beta_T = \mathbf 1` and :math:`\gamma_T = \hat\alpha_T`; :math:`\xi_t(k, l) =
    p(z_{t-1}=k, z_t=l\mid x_{1:T})`, the E-step statistic of Baum-Welch. Since
    :math:`\hat\alpha_t^\top\hat\beta_t = 1` at every step, :math:`c_t` is exactly the normaliser
    :math:`\hat\alpha_{t-1}^\top A(\hat b_t\odot\hat\beta_t)` of :math:`\gamma_{t-1}`, and no sum over states is
    recomputed. The shift :math:`s_t` only guards against under- and overflow (:math:`\gamma`, :math:`\xi` and
    :math:`\log p` do not depend on it), so the recursion first runs with :math:`s_t = 0` (one ``exp``, no maximum
    over states) and reruns with :math:`s_t = \max_l\log b_t(l)` only the sequences with a normaliser outside
    :math:`[e^{-100}, e^{100}]`. The backward pass is numpy only: on the gradient backends the smoothed marginals
    are the gradient of :math:`\log p(x_{1:T})` with respect to the log emissions.

    Parameters
    ----------
    log_initial
        :math:`\log\pi`, shape ``(K,)``, normalised.
    log_transition
        :math:`\log A`, shape ``(K, K)`` (rows are the previous state), normalised over the last axis.
    log_emission
        :math:`\log p(x_{n,t}\mid z=k)`, shape ``(N, T, K)``; not written to.

    Returns
    -------
    tuple
        :math:`\gamma` of shape ``(N, T, K)`` (a view of a time-major array), the expected transition counts
        :math:`\sum_n\sum_t\xi^{(n)}_t` of shape ``(K, K)``, and :math:`\log p(x_{1:t})` of shape ``(T, N)``
        (``-inf`` from the first impossible step of a sequence on; its marginals are then meaningless).
    """
    log_emission = np.asarray(log_emission, dtype=np.float64)
    n, t_len, k = log_emission.shape
    transition = np.exp(log_transition)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # first without a shift (s_t = 0), as it only guards against under- and overflow: it is needed only for
        # the sequences whose normalisers leave a safe range, which run again with s_t = max_l log b_t(l).
        # The emissions are written time-major, so that every step reads one contiguous (N, K) block.
        emission = np.exp(log_emission.transpose(1, 0, 2), out=np.empty((t_len, n, k))).transpose(1, 0, 2)
        shift = np.zeros((n, t_len, 1))
        gamma, log_p, c = _filter(numpy_ops, log_initial, transition, emission, shift, True, True)
        low, high = _UNSHIFTED_RANGE
        redo = ~((c > low) & (c < high)).all(axis=(0, 2))
        if redo.any():
            shift = np.clip(log_emission[redo].max(-1, keepdims=True), -1e30, None)
            emission[redo] = np.exp(log_emission[redo] - shift)
            gamma[:, redo], log_p[:, redo], c[:, redo] = _filter(numpy_ops, log_initial, transition,
                                                                 emission[redo], shift, True, True)
        emission = emission.transpose(1, 0, 2)  # (T, N, K), contiguous
        # backward, in place: w_t overwrites b_t, gamma_{t-1} overwrites alpha_{t-1} once it is used
        transition_t = np.ascontiguousarray(transition.T)
        beta = np.ones((n, k))
        counts = np.zeros((k, k))
        for t in range(t_len - 1, 0, -1):
            w = np.multiply(emission[t], beta, out=emission[t])
            w /= c[t]
            counts += gamma[t - 1].T @ w  # times A_kl below
            beta = w @ transition_t
            gamma[t - 1] *= beta
        counts *= transition
    return gamma.transpose(1, 0, 2), counts, log_p


def log_likelihood(ops: Ops, log_initial: Array, log_transition: Array, log_emission: Array) -> Array:
    r""":math:`\log p(x_{1:T})` with the states summed out, by the forward recursion (:func:`forward`).

    Parameters
    ----------
    ops
        The backend's ``ops`` module.
    log_initial
        :math:`\log\pi`, shape ``(..., K)``, normalised.
    log_transition
        :math:`\log A` (rows are the current state), shape ``(..., K, K)``, normalised over the last axis.
    log_emission
        :math:`\log p(x_t\mid z_t=k)`, shape ``(..., T, K)``; its batch shape must hold those of the other two
        (the recursion's carry keeps one shape).

    Returns
    -------
    array
        Shape ``(...)``; ``-inf`` for a sequence of probability zero.
    """
    return forward(ops, log_initial, log_transition, log_emission)[1]


def sample_states(ops: Ops, uniforms: Array, log_initial: Array, log_transition: Array) -> Array:
    r"""Hidden paths :math:`z_{1:T}` drawn ancestrally by inverse CDF from given uniforms.

    :math:`z_1 = \#\{l : u_1 > F_\pi(l)\}` and :math:`z_t = \#\{l : u_t > F_{A_{z_{t-1}}}(l)\}`, clipped to
    :math:`K-1` against rounding; the previous state is carried as a one-hot row, so one matrix product selects
    the CDF row for every sequence at once.

    Parameters
    ----------
    ops
        The array namespace (as in :func:`forward`).
    uniforms
        :math:`u_{1:T}\sim\mathrm U(0,1)`, shape ``(*shape, T)``, drawn by the caller's generator.
    log_initial, log_transition
        Normalised :math:`\log\pi` ``(..., K)`` and :math:`\log A` ``(..., K, K)``, broadcastable to ``shape``.

    Returns
    -------
    array
        Integer states, shape ``(*shape, T)``.
    """
    k = log_initial.shape[-1]
    states = ops.arange(k)
    initial_cdf = ops.cumsum(ops.exp(log_initial), axis=-1)
    transition_cdf = ops.cumsum(ops.exp(log_transition), axis=-1)
    u = ops.moveaxis(uniforms, -1, 0)  # (T, *shape)

    def draw(cdf, u_t):
        return ops.clip(ops.sum(ops.expand_dims(u_t, -1) > cdf, axis=-1), None, k - 1)

    def one_hot(z):
        return ops.where(ops.expand_dims(z, -1) == states, 1.0, 0.0) + 0.0 * initial_cdf[..., :1]

    def step(previous, u_t):
        row = ops.matmul(ops.expand_dims(previous, -2), transition_cdf)[..., 0, :]
        z = draw(row, u_t)
        return one_hot(z), z

    first = draw(initial_cdf, u[0])
    _, rest = ops.scan(step, one_hot(first), u[1:])
    first = ops.expand_dims(first, 0)
    z = first if rest is None else ops.concatenate([first, rest], axis=0)
    return ops.moveaxis(z, 0, -1)
