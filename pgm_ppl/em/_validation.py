"""Boundary checks shared by the EM fitters: data matrices, component counts, names."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def as_data(X: ArrayLike, name: str = "X") -> np.ndarray:
    """Return ``X`` as a finite float64 (N, d) array, or raise a ValueError naming the problem."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric array of shape (N, d); got {type(X).__name__}.") from e
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d); got an array with shape {arr.shape}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column; got shape {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{name} has a non-finite value at row {row}, column {col}: {arr[row, col]}.")
    return arr


def check_num_components(num_components: int, num_points: int) -> None:
    """Require 1 <= K <= N."""
    if not isinstance(num_components, (int, np.integer)) or isinstance(num_components, bool):
        raise TypeError(f"num_components must be an int; got {type(num_components).__name__}.")
    if not 1 <= num_components <= num_points:
        raise ValueError(f"num_components must be between 1 and the number of points ({num_points}); "
                         f"got {num_components}.")


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Raise a ValueError listing the valid names when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {', '.join(repr(c) for c in choices)}.")
