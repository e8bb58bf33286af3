r"""The state-marginalised likelihood of a hidden Markov model, written once for both backends.

A homogeneous HMM with :math:`K` states (course Example 3.3 with a discrete state) has

.. math::

    p(x_{1:T}) = \sum_{z_{1:T}} \pi_{z_1} p(x_1\mid z_1)\prod_{t=2}^T A_{z_{t-1}z_t}\,p(x_t\mid z_t)
               = \pi_1^\top M_2 M_3\cdots M_T\,\mathbf 1,
    \qquad \pi_1 = \pi\odot b_1,\quad (M_t)_{kl} = A_{kl}\,b_t(l),\quad b_t(l) = p(x_t\mid z_t=l).

We run the forward recursion of the notes in log space, :math:`\log\alpha_1 = \log\pi + \log b_1` and

.. math:: \log\alpha_t(l) = s_{t-1} + \log\sum_k e^{\log\alpha_{t-1}(k) - s_{t-1}} A_{kl} + \log b_t(l),
          \qquad s_{t-1} = \max_k\log\alpha_{t-1}(k),

one vector-matrix product per step for all sequences at once (:math:`O(TNK^2)`), then
:math:`\log p(x_{1:T}) = \operatorname{logsumexp}_l\log\alpha_T(l)`. The steps run through ``ops.scan``: one
compiled ``jax.lax.scan`` on NumPyro, a loop on PyTorch. Pyro's ``DiscreteHMM`` multiplies the :math:`M_t`
in pairwise rounds instead (depth :math:`\log_2 T`, made for GPUs), which costs :math:`K` times more
arithmetic; on CPU the recursion is faster (``benchmarks/bench_graphical.py``). The functions take the
backend's ``ops`` module (:mod:`pgm_ppl.backend.ops_torch` or :mod:`pgm_ppl.backend.ops_jax`) as their first
argument.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

__all__ = ["check_shapes", "log_normalise", "log_likelihood"]


def check_shapes(initial_shape: tuple[int, ...], transition_shape: tuple[int, ...],
                 emission_batch_shape: tuple[int, ...], num_steps: int) -> tuple[tuple[int, ...], int]:
    """Validate the parameter shapes; return the distribution's batch shape and the number of states.

    ``initial_shape`` is ``(..., K)``, ``transition_shape`` ``(..., K, K)`` and ``emission_batch_shape``
    ``(K,)`` or ``(..., T or 1, K)``: the axis before the states is time.
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}.")
    if len(initial_shape) < 1:
        raise ValueError("initial_logits must have a trailing axis of K states.")
    k = initial_shape[-1]
    if tuple(transition_shape[-2:]) != (k, k):
        raise ValueError(f"transition_logits must end in ({k}, {k}) for K={k} states, got {tuple(transition_shape)}.")
    if len(emission_batch_shape) < 1 or emission_batch_shape[-1] != k:
        raise ValueError(f"the emission distribution's batch shape must end in K={k} states, "
                         f"got {tuple(emission_batch_shape)}.")
    if len(emission_batch_shape) >= 2 and emission_batch_shape[-2] not in (1, num_steps):
        raise ValueError(f"the emission batch shape must be (..., T or 1, K) with T={num_steps}, got "
                         f"{tuple(emission_batch_shape)}; the axis before the states is time.")
    shapes = (tuple(initial_shape[:-1]), tuple(transition_shape[:-2]), tuple(emission_batch_shape[:-2]))
    try:
        return np.broadcast_shapes(*shapes), k
    except ValueError:
        raise ValueError(f"HMM parameter batch shapes {shapes} do not broadcast.") from None


def log_normalise(ops: ModuleType, logits):
    """``logits - logsumexp(logits)`` over the last axis: log-probabilities from unnormalised logits."""
    return logits - ops.logsumexp(logits, axis=-1, keepdims=True)


def log_likelihood(ops: ModuleType, log_initial, log_transition, log_emission):
    r""":math:`\log p(x_{1:T})` with the states summed out, by the forward recursion.

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
        Shape ``(...)``.
    """
    transition = ops.exp(log_transition)

    def forward(log_alpha, log_emission_t):
        # the shift is clipped so that an all -inf row stays -inf instead of becoming nan
        shift = ops.clip(ops.max(log_alpha, axis=-1, keepdims=True), -1e30)
        predicted = ops.matmul(ops.expand_dims(ops.exp(log_alpha - shift), -2), transition)[..., 0, :]
        return ops.log(predicted) + shift + log_emission_t, None

    first = log_initial + log_emission[..., 0, :]
    last, _ = ops.scan(forward, first, ops.moveaxis(log_emission[..., 1:, :], -2, 0))
    return ops.logsumexp(last, axis=-1)
