r"""The state-marginalised likelihood of a hidden Markov model, written once for both backends.

A homogeneous HMM with :math:`K` states (course Example 3.3 with a discrete state) has

.. math::

    p(x_{1:T}) = \sum_{z_{1:T}} \pi_{z_1} p(x_1\mid z_1)\prod_{t=2}^T A_{z_{t-1}z_t}\,p(x_t\mid z_t)
               = \pi_1^\top M_2 M_3\cdots M_T\,\mathbf 1,
    \qquad \pi_1 = \pi\odot b_1,\quad (M_t)_{kl} = A_{kl}\,b_t(l),\quad b_t(l) = p(x_t\mid z_t=l).

We evaluate the matrix product in the log semiring, :math:`(\log M\otimes\log N)_{kl} =
\operatorname{logsumexp}_j(\log M_{kj} + \log N_{jl})`, by pairwise reduction: the :math:`T-1` matrices
are multiplied in pairs, then the results in pairs, :math:`\lceil\log_2 T\rceil` rounds in all (the scheme
of Pyro's ``DiscreteHMM``). Each round is one batched array operation, so a traced NumPyro model or a
PyTorch autograd graph has depth :math:`O(\log T)` rather than :math:`T`, and everything stays in log
space. The functions take the backend's ``ops`` module (:mod:`pgm_ppl.backend.ops_torch` or
:mod:`pgm_ppl.backend.ops_jax`) as their first argument.
"""

from __future__ import annotations

from types import ModuleType

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
    batch = _broadcast(tuple(initial_shape[:-1]), tuple(transition_shape[:-2]), tuple(emission_batch_shape[:-2]))
    return batch, k


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    ndim = max(map(len, shapes))
    padded = [(1,) * (ndim - len(s)) + s for s in shapes]
    result = []
    for sizes in zip(*padded):
        distinct = {s for s in sizes if s != 1}
        if len(distinct) > 1:
            raise ValueError(f"HMM parameter batch shapes {shapes} do not broadcast.")
        result.append(distinct.pop() if distinct else 1)
    return tuple(result)


def log_normalise(ops: ModuleType, logits):
    """``logits - logsumexp(logits)`` over the last axis: log-probabilities from unnormalised logits."""
    return logits - ops.logsumexp(logits, axis=-1, keepdims=True)


def _log_matmul(ops: ModuleType, a, b):
    """Matrix product in the log semiring over the last two axes (broadcasting the rest).

    :math:`\log(e^{a-s}e^{b-u}) + s + u` with row maxima :math:`s` of ``a`` and column maxima :math:`u`
    of ``b``: one BLAS product instead of a :math:`K^3` log-sum-exp, and no overflow. The shifts are
    clipped so that an all ``-inf`` row gives ``-inf``, not ``nan``; their gradients cancel exactly.
    """
    a_shift = ops.clip(ops.max(a, axis=-1, keepdims=True), -1e30)
    b_shift = ops.clip(ops.max(b, axis=-2, keepdims=True), -1e30)
    return ops.log(ops.matmul(ops.exp(a - a_shift), ops.exp(b - b_shift))) + a_shift + b_shift


def _log_chain_product(ops: ModuleType, matrices):
    """:math:`\\log(M_1 M_2\\cdots M_n)` from ``log M`` of shape ``(..., n, K, K)``, by pairwise rounds."""
    while matrices.shape[-3] > 1:
        n = matrices.shape[-3]
        even = n // 2 * 2
        paired = _log_matmul(ops, matrices[..., 0:even:2, :, :], matrices[..., 1:even:2, :, :])
        matrices = paired if n == even else ops.concatenate([paired, matrices[..., even:, :, :]], axis=-3)
    return matrices[..., 0, :, :]


def log_likelihood(ops: ModuleType, log_initial, log_transition, log_emission):
    r""":math:`\log p(x_{1:T})` with the states summed out.

    Parameters
    ----------
    ops
        The backend's ``ops`` module.
    log_initial
        :math:`\log\pi`, shape ``(..., K)``, normalised.
    log_transition
        :math:`\log A` (rows are the current state), shape ``(..., K, K)``, normalised over the last axis.
    log_emission
        :math:`\log p(x_t\mid z_t=k)`, shape ``(..., T, K)``.

    Returns
    -------
    array
        Shape ``(...)``: the broadcast of the three batch shapes.
    """
    first = log_initial + log_emission[..., 0, :]
    if log_emission.shape[-2] == 1:
        return ops.logsumexp(first, axis=-1)
    steps = ops.expand_dims(log_transition, -3) + ops.expand_dims(log_emission[..., 1:, :], -2)
    product = _log_chain_product(ops, steps)
    return ops.logsumexp(ops.expand_dims(first, -1) + product, axis=(-2, -1))
