"""The one place where pgm_ppl checks what users pass in.

Every entry point (``fit``, the classical engines, ``train``, the command) validates its inputs here, so every
message has one shape: the culprit, what was expected, what was received, and what to do. Inner kernels trust
their inputs.

>>> check_data([[1.0, float("nan")]], "X")
Traceback (most recent call last):
...
ValueError: X: expected finite values, got nan at row 0, column 1 (1 non-finite value in all); remove or impute them first.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pgm_ppl.core._stack import user_stacklevel

__all__ = ["as_numpy", "check_choice", "check_data", "check_int", "check_positive", "check_probability",
           "check_probability_rows"]


def as_numpy(value: Any) -> Any:
    """Return a torch tensor or JAX array as a numpy array (other values unchanged)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if type(value).__module__.startswith(("jax", "jaxlib")):
        return np.asarray(value)
    return value


def check_data(value: Any, name: str = "X", *, ndim: int | tuple[int, ...] | None = 2, min_rows: int = 1,
               finite: bool = True, dtype: Any = np.float64) -> np.ndarray:
    """Return ``value`` as a numpy array of ``dtype`` after checking type, shape, emptiness and finiteness.

    Parameters
    ----------
    value
        Array-like (numpy, torch, JAX, nested lists).
    name
        How the user knows the argument ("X", "data", "'y'", "positional argument 0").
    ndim
        Required number of dimensions (an int or a tuple of allowed ones); None accepts any.
    min_rows
        Minimum length of the first axis.
    finite
        Whether NaN and infinite values are refused.
    dtype
        The dtype of the returned array (None keeps the input's).

    Raises
    ------
    TypeError
        If ``value`` is not numeric.
    ValueError
        If it has the wrong number of dimensions, too few rows, or a non-finite value (its position is named).
    """
    value = as_numpy(value)
    try:
        array = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: expected a numeric array, got {type(value).__name__}.") from error
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name}: expected a numeric array, got dtype {array.dtype}.")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and array.ndim not in allowed:
        expected = " or ".join(f"{d}-D" for d in allowed)
        shape_hint = " (rows x columns)" if allowed == (2,) else ""
        raise ValueError(f"{name}: expected a {expected} array{shape_hint}, got shape {array.shape}.")
    if array.ndim and array.shape[0] < min_rows or array.size == 0:
        raise ValueError(f"{name}: expected at least {max(min_rows, 1)} row(s) and no empty axis, "
                         f"got shape {array.shape}.")
    if finite and np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            position = (f"row {where[0]}, column {where[1]}" if len(where) == 2
                        else f"index {where[0] if len(where) == 1 else where}")
            count = int(bad.sum())
            raise ValueError(f"{name}: expected finite values, got {array[where]} at {position} "
                             f"({count} non-finite value{'s' if count > 1 else ''} in all); "
                             "remove or impute them first.")
    return array


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(repr(c) for c in choices)}, got {value!r}.")
    return value


def check_int(value: Any, name: str, *, minimum: int | None = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int within ``[minimum, maximum]``; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {value!r} ({type(value).__name__}).")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = (f"between {minimum} and {maximum}" if minimum is not None and maximum is not None
                  else f">= {minimum}" if minimum is not None else f"<= {maximum}")
        raise ValueError(f"{name}: expected an integer {bounds}, got {value}.")
    return int(value)


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float that is finite and > 0 (>= 0 with ``allow_zero``)."""
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__}).") from error
    if not np.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise ValueError(f"{name}: expected a finite number {'>=' if allow_zero else '>'} 0, got {value!r}.")
    return number


def check_probability(value: Any, name: str, *, open_interval: bool = False) -> float:
    """Return ``value`` as a float in [0, 1] (or (0, 1) with ``open_interval``)."""
    number = check_positive(value, name, allow_zero=True)
    if number > 1 or (open_interval and number in (0.0, 1.0)):
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}.")
    return number


def check_probability_rows(value: Any, name: str, *, tol: float | np.ndarray | None = None,
                           renormalise: bool = True,
                           describe_row: Callable[[tuple[int, ...]], str] | None = None) -> np.ndarray:
    r"""``value`` (..., k) as float64 after checking that its last axis holds probability vectors.

    The one check of probability tables (HMM transitions and emissions, Bayes-net CPTs, the pmfs of the
    divergences). A row's sum may miss 1 by ``tol``: by default :math:`\sqrt\epsilon` of the input's dtype
    (1.5e-8 for float64, 3.5e-4 for float32, float64's for integers and Python floats), the rounding level of a
    table computed at that precision; ``tol`` may also be an array broadcast against the rows (a file's printed
    digits). With ``renormalise`` each row is divided by its sum, so that log-probabilities of discrete data stay
    <= 0 and KL(p, p) = 0 exactly.

    Parameters
    ----------
    value
        Probabilities, shape (..., k), k >= 1 (a 1-D pmf, a transition matrix, a CPT with parents first).
    name
        The argument's name in messages (``"transition"``, ``"cpts['a']"``).
    describe_row
        How a row's index is shown (default ``"row 3"``; a Bayes net says ``"parent states (0, 1)"``).

    Raises
    ------
    ValueError
        "name: expected ..., got ..." for a scalar or empty last axis, NaN/inf entries, a negative entry or a
        row sum off by more than ``tol``, naming the first offending row.
    """
    table = np.asarray(value)
    if tol is None:
        tol = float(np.sqrt(np.finfo(table.dtype if np.issubdtype(table.dtype, np.floating) else np.float64).eps))
    table = table.astype(np.float64)
    if table.ndim == 0 or table.shape[-1] == 0:
        raise ValueError(f"{name}: expected probabilities along a last axis of states, got shape {table.shape}.")
    if not np.isfinite(table).all():
        raise ValueError(f"{name}: expected finite probabilities, got {int((~np.isfinite(table)).sum())} NaN or "
                         "infinite entries.")
    total = table.sum(-1)
    off, tol = np.abs(total - 1.0), np.broadcast_to(tol, table.shape[:-1])
    negative = (table < 0).any(-1)
    bad = negative | (off > tol)
    if bad.any():
        row = np.unravel_index(np.argmax(np.where(bad, off - tol, -np.inf)), bad.shape)
        row = tuple(int(i) for i in row)
        describe = describe_row or (lambda r: f"row {r[0] if len(r) == 1 else r}")
        where = f" ({describe(row)})" if row else ""
        got = "negative entries" if negative[row] else f"a row sum off by {float(off[row]):.3g}"
        raise ValueError(f"{name}: expected rows that are probability vectors (non-negative, summing to 1 within "
                         f"{float(tol[row]):.2g}), got {got}{where}.")
    return table / total[..., None] if renormalise else table


def warn_if_reg_covar_dominates(X: np.ndarray, reg_covar: float, caller: str) -> None:
    """Warn when ``reg_covar`` (an absolute amount, scikit-learn's convention) is 1% or more of a varying column's
    variance: the fitted covariances then describe the regularisation, not the data (data in units of 1e-8).
    Constant columns are what ``reg_covar`` is for and are not warned about. Used by every Gaussian mixture
    fitter that adds ``reg_covar`` to its covariances (``caller`` names it in the message)."""
    variances = X.var(0)
    swamped = (variances > 0) & (variances < 100.0 * reg_covar)
    if swamped.any():
        j = int(np.argmax(swamped))
        warnings.warn(f"{caller}: reg_covar={reg_covar:g} is {reg_covar / variances[j]:.2g} times the variance of "
                      f"column {j} of X ({variances[j]:.3g}), so the fitted covariances describe the regularisation "
                      "more than the data; rescale X (for example to unit variance) or lower reg_covar.",
                      UserWarning, stacklevel=user_stacklevel())
