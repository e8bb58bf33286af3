"""Array operations of the neutral namespace on PyTorch (``ops`` under the Pyro backend).

The same names and numpy-style signatures as :mod:`pgm_ppl.backend.ops_jax` (``axis=`` rather than
torch's ``dim=``); arrays are created in PyTorch's default dtype (float64 inside ``use_backend``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from numpy.typing import ArrayLike

from pgm_ppl.backend.scan import python_scan

__all__ = [
    "abs", "arange", "asarray", "clip", "concatenate", "cumsum", "einsum", "exp", "expand_dims", "eye",
    "full", "linspace", "log", "log1p", "logsumexp", "matmul", "max", "mean", "min", "moveaxis", "ones",
    "reshape", "scan", "sigmoid", "softmax", "sqrt", "square", "stack", "sum", "tanh", "where", "zeros",
]

abs = torch.abs
exp = torch.exp
log = torch.log
log1p = torch.log1p
sqrt = torch.sqrt
square = torch.square
tanh = torch.tanh
sigmoid = torch.sigmoid
matmul = torch.matmul
einsum = torch.einsum
eye = torch.eye
linspace = torch.linspace
moveaxis = torch.movedim
reshape = torch.reshape


def asarray(x: torch.Tensor | ArrayLike, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert ``x`` to a tensor; floats take the default dtype."""
    if isinstance(x, torch.Tensor):
        return x if dtype is None else x.to(dtype)
    result = torch.as_tensor(x, dtype=dtype)
    return result.to(torch.get_default_dtype()) if result.is_floating_point() and dtype is None else result


def arange(*args: float, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``torch.arange`` with numpy's positional (start, stop, step)."""
    return torch.arange(*args, dtype=dtype)


def zeros(shape: int | Sequence[int], dtype: torch.dtype | None = None) -> torch.Tensor:
    """Zeros of ``shape`` (an int or a tuple)."""
    return torch.zeros(_shape(shape), dtype=dtype)


def ones(shape: int | Sequence[int], dtype: torch.dtype | None = None) -> torch.Tensor:
    """Ones of ``shape`` (an int or a tuple)."""
    return torch.ones(_shape(shape), dtype=dtype)


def full(shape: int | Sequence[int], fill_value: float, dtype: torch.dtype | None = None) -> torch.Tensor:
    """An array of ``shape`` filled with ``fill_value``."""
    return torch.full(_shape(shape), fill_value, dtype=dtype or torch.get_default_dtype())


def sum(x: torch.Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> torch.Tensor:
    """Sum over ``axis`` (all axes when None)."""
    return torch.sum(x) if axis is None else torch.sum(x, dim=axis, keepdim=keepdims)


def mean(x: torch.Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> torch.Tensor:
    """Mean over ``axis`` (all axes when None)."""
    return torch.mean(x) if axis is None else torch.mean(x, dim=axis, keepdim=keepdims)


def max(x: torch.Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> torch.Tensor:
    """Maximum over ``axis`` (all axes when None)."""
    return torch.amax(x) if axis is None else torch.amax(x, dim=axis, keepdim=keepdims)


def min(x: torch.Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> torch.Tensor:
    """Minimum over ``axis`` (all axes when None)."""
    return torch.amin(x) if axis is None else torch.amin(x, dim=axis, keepdim=keepdims)


def logsumexp(x: torch.Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> torch.Tensor:
    """Stable log-sum-exp over ``axis`` (all axes when None)."""
    if axis is None:
        return torch.logsumexp(x.reshape(-1), dim=0)
    return torch.logsumexp(x, dim=axis, keepdim=keepdims)


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Softmax along ``axis``."""
    return torch.softmax(x, dim=axis)


def cumsum(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    """Cumulative sum along ``axis`` (over the flattened array when None, as numpy)."""
    return torch.cumsum(x.reshape(-1), dim=0) if axis is None else torch.cumsum(x, dim=axis)


def stack(arrays: Sequence[torch.Tensor], axis: int = 0) -> torch.Tensor:
    """Stack along a new ``axis``."""
    return torch.stack(list(arrays), dim=axis)


def concatenate(arrays: Sequence[torch.Tensor], axis: int = 0) -> torch.Tensor:
    """Join along an existing ``axis``."""
    return torch.cat(list(arrays), dim=axis)


def expand_dims(x: torch.Tensor, axis: int) -> torch.Tensor:
    """Insert a length-one axis at ``axis``."""
    return torch.unsqueeze(x, axis)


def clip(x: torch.Tensor, a_min: float | torch.Tensor | None = None,
         a_max: float | torch.Tensor | None = None) -> torch.Tensor:
    """Clip to ``[a_min, a_max]``."""
    return torch.clamp(x, min=a_min, max=a_max)


def where(condition: torch.Tensor | ArrayLike, x: torch.Tensor | ArrayLike,
          y: torch.Tensor | ArrayLike) -> torch.Tensor:
    """Elementwise ``x`` where ``condition`` else ``y``."""
    return torch.where(torch.as_tensor(condition), torch.as_tensor(x), torch.as_tensor(y))


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: torch.Tensor | tuple[torch.Tensor, ...]
         ) -> tuple[Any, Any]:
    """``carry, ys``: ``carry, y = f(carry, x)`` for each ``x`` along the leading axis of ``xs``, the ``y``
    stacked (``None`` when ``f`` returns ``None``), as ``jax.lax.scan``; a Python loop on PyTorch. ``xs`` and
    ``y`` may be tuples of tensors (stepped through, and stacked, together)."""
    return python_scan(f, init, xs, torch.stack)
