"""Boundary validation shared by the ``pgm_ppl.ot`` modules (backend-neutral: numpy or torch)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import ot

__all__: list[str] = []


def backend(*arrays: Any):
    """POT backend of the given arrays (numpy or torch), with a clear error for mixed inputs."""
    present = [x for x in arrays if x is not None]
    try:
        return ot.backend.get_backend(*present)
    except ValueError as e:
        raise TypeError(
            "all arrays must be of the same kind (all numpy arrays or all torch tensors on one device); "
            f"got {[type(x).__name__ for x in present]}"
        ) from e


def scalar(nx, value: Any) -> float:
    """A backend scalar as a Python float (detached from any autograd graph)."""
    return float(nx.to_numpy(value))


def as_array(x: Any, name: str) -> Any:
    """Return ``x`` unchanged if it is a numpy array or torch tensor, else ``np.asarray(x, float64)``."""
    if isinstance(x, np.ndarray) or type(x).__module__.startswith("torch"):
        return x
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"'{name}' must be array-like of numbers; got {type(x).__name__}") from e


def check_positive(value: float, name: str) -> float:
    """A finite, strictly positive scalar."""
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool):
        raise TypeError(f"'{name}' must be a number; got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"'{name}' must be finite and > 0; got {value}")
    return float(value)


def check_int(value: int, name: str, minimum: int = 1) -> int:
    """An integer no smaller than ``minimum``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"'{name}' must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"'{name}' must be >= {minimum}; got {value}")
    return int(value)


def rounding_tolerance(*arrays: Any) -> float:
    """:math:`\\sqrt\\epsilon` of the least precise floating dtype among ``arrays`` (1.5e-8 for float64, 3.5e-4 for
    float32; float64's for integers): how far a sum of weights normalised at that precision may miss its target."""
    eps = 0.0
    for x in arrays:
        dtype = x.dtype
        if hasattr(dtype, "is_floating_point"):  # torch
            import torch

            value = torch.finfo(dtype).eps if dtype.is_floating_point else np.finfo(np.float64).eps
        else:
            value = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else np.finfo(np.float64).eps
        eps = max(eps, float(value))
    return math.sqrt(eps or float(np.finfo(np.float64).eps))


def check_histograms(a: Any, b: Any, C: Any, *, balanced: bool = True) -> tuple[Any, Any, Any]:
    """Validate weights ``a`` (n,), ``b`` (m,) and cost ``C`` (n, m); balanced problems need equal masses."""
    a, b, C = as_array(a, "a"), as_array(b, "b"), as_array(C, "C")
    nx = backend(a, b, C)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"'a' and 'b' must be 1-D weight vectors; got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if tuple(C.shape) != (a.shape[0], b.shape[0]):
        raise ValueError(
            f"cost 'C' must have shape (len(a), len(b)) = {(a.shape[0], b.shape[0])}; got {tuple(C.shape)}"
        )
    for name, w in (("a", a), ("b", b)):
        if scalar(nx, nx.min(w)) < 0 or not math.isfinite(scalar(nx, nx.sum(w))):
            raise ValueError(f"weights '{name}' must be finite and non-negative")
    if not math.isfinite(scalar(nx, nx.sum(C))):  # NaN and +-inf propagate to the sum
        raise ValueError("cost 'C' contains non-finite entries")
    if balanced:
        mass_a, mass_b = scalar(nx, nx.sum(a)), scalar(nx, nx.sum(b))
        if abs(mass_a - mass_b) > rounding_tolerance(a, b) * max(mass_a, mass_b):
            raise ValueError(
                f"'a' and 'b': balanced OT needs equal total masses (to {rounding_tolerance(a, b):.2g} relative, the "
                f"rounding level of their dtype): sum(a) = {mass_a:.10g}, sum(b) = {mass_b:.10g}; "
                "normalise them or use unbalanced_sinkhorn"
            )
        if mass_a != mass_b:  # rounding: b is rescaled to a's mass (as POT's emd does, which asserts 1e-6 first)
            b = b * (mass_a / mass_b)
    return a, b, C


def check_points(x: Any, name: str) -> Any:
    """Point cloud of shape (n, d); a 1-D input is read as n points in dimension 1."""
    x = as_array(x, name)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"'{name}' must have shape (n, d) with n >= 1; got {tuple(x.shape)}")
    finite = np.isfinite(np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64))
    if not finite.all():
        row, column = (int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"'{name}': expected finite points, got {float(x[row, column])} at row {row}, column {column} "
                         f"({int((~finite).sum())} non-finite in all)")
    return x


def check_weights(w: Any, n: int, name: str, like: Any) -> Any:
    """Weights of length ``n`` summing to one; ``None`` means uniform (same backend as ``like``)."""
    nx = backend(like)
    if w is None:
        return nx.ones((n,), type_as=like) / n
    w = as_array(w, name)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"'{name}' must have shape ({n},); got {tuple(w.shape)}")
    if scalar(nx, nx.min(w)) < 0 or abs(scalar(nx, nx.sum(w)) - 1.0) > rounding_tolerance(w):
        raise ValueError(f"'{name}' must be non-negative and sum to 1; got sum {scalar(nx, nx.sum(w)):.10g}")
    return w
