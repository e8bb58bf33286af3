"""Array operations of the neutral namespace on JAX (``ops`` under the NumPyro backend).

Numpy's names and signatures (``axis=``), so that model code reads the same on both backends;
:mod:`pgm_ppl.backend.ops_torch` implements exactly the same names on PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.nn
import jax.numpy as jnp
import jax.scipy.special

__all__ = [
    "abs", "arange", "asarray", "clip", "concatenate", "cumsum", "einsum", "exp", "expand_dims", "eye",
    "full", "linspace", "log", "log1p", "logsumexp", "matmul", "max", "mean", "min", "moveaxis", "ones",
    "reshape", "scan", "sigmoid", "softmax", "sqrt", "square", "stack", "sum", "tanh", "where", "zeros",
]

abs = jnp.abs
arange = jnp.arange
asarray = jnp.asarray
clip = jnp.clip
concatenate = jnp.concatenate
cumsum = jnp.cumsum
einsum = jnp.einsum
exp = jnp.exp
expand_dims = jnp.expand_dims
eye = jnp.eye
full = jnp.full
linspace = jnp.linspace
log = jnp.log
log1p = jnp.log1p
logsumexp = jax.scipy.special.logsumexp
matmul = jnp.matmul
max = jnp.max
mean = jnp.mean
min = jnp.min
moveaxis = jnp.moveaxis
ones = jnp.ones
reshape = jnp.reshape
sigmoid = jax.nn.sigmoid
softmax = jax.nn.softmax
sqrt = jnp.sqrt
square = jnp.square
stack = jnp.stack
sum = jnp.sum
tanh = jnp.tanh
where = jnp.where
zeros = jnp.zeros


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any) -> tuple[Any, Any]:
    """``carry, ys``: ``carry, y = f(carry, x)`` for each ``x`` along the leading axis of ``xs``, the ``y``
    stacked (``jax.lax.scan``: compiled once, not unrolled). ``f`` must be pure (no sample sites). ``init``,
    ``xs`` and the carry are JAX pytrees (an array or a tuple of arrays), hence ``Any``."""
    return jax.lax.scan(f, init, xs)
