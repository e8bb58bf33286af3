"""Strategies and checks shared by the property-based suite (issue 18: degenerate and extreme inputs).

Every data entry point gets arrays of the kinds real users pass: duplicated rows, constant columns, one or two
rows, more components than distinct rows, NaN/inf, float32, columns scaled by 1e+-8. The one property: the call
either returns a finite, valid result, or raises a ``ValueError``/``TypeError`` whose message names the argument
(``"X: expected ..."``). Any other exception, or a non-finite or invalid result, fails the test.

All settings are deterministic (``derandomize=True``) and small, so the folder runs in well under a minute.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from pgm_ppl.core.convergence import ConvergenceWarning

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

KINDS = ("plain", "duplicates", "constant_column", "one_row", "two_rows", "scaled_up", "scaled_down",
         "nonfinite", "float32")


@st.composite
def data_matrices(draw, *, max_rows: int = 8, max_cols: int = 3, min_cols: int = 1, kinds=KINDS,
                  integer_values: bool = False):
    """(N, d) arrays of one degenerate kind (or two: a kind plus float32 / duplicates at random).

    Returns ``(kind, X)``.
    """
    kind = draw(st.sampled_from(kinds))
    n = {"one_row": 1, "two_rows": 2}.get(kind) or draw(st.integers(3, max_rows))
    d = draw(st.integers(min_cols, max_cols))
    distinct = draw(st.integers(1, n)) if kind == "duplicates" else n
    values = st.integers(-3, 3) if integer_values else st.floats(-5, 5, allow_nan=False, width=32)
    base = np.array(draw(st.lists(st.lists(values, min_size=d, max_size=d), min_size=distinct,
                                  max_size=distinct)), dtype=np.float64)
    if kind == "duplicates":
        index = draw(st.lists(st.integers(0, distinct - 1), min_size=n - distinct, max_size=n - distinct))
        X = np.concatenate([base, base[index]])
    else:
        X = base
    column = draw(st.integers(0, d - 1))
    if kind == "constant_column":
        X[:, column] = draw(st.sampled_from([0.0, 7.0, -1e3]))
    elif kind == "scaled_up":
        X[:, column] *= 1e8
    elif kind == "scaled_down":
        X[:, column] *= 1e-8
    elif kind == "nonfinite":
        row = draw(st.integers(0, n - 1))
        X[row, column] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if kind == "float32" or draw(st.integers(0, 4)) == 0:
        X = X.astype(np.float32)
    return kind, X


def names_argument(error: BaseException, names) -> bool:
    text = str(error)
    return any(name in text for name in ((names,) if isinstance(names, str) else names))


@contextmanager
def quiet():
    """Convergence warnings are allowed (they are the documented signal); nothing else is silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def call_or_named_error(function, names, *args, **kwargs):
    """``function(*args, **kwargs)``, or None when it raised a ValueError/TypeError naming one of ``names``.

    Any other exception propagates (the test fails); a ValueError/TypeError that names none of ``names`` fails
    with its text.
    """
    try:
        with quiet():
            return function(*args, **kwargs)
    except (ValueError, TypeError) as error:
        assert names_argument(error, names), f"error does not name {names}: {type(error).__name__}: {error}"
        return None


def has_nonfinite(X) -> bool:
    return not np.isfinite(np.asarray(X, dtype=np.float64)).all()


def assert_finite(name: str, value) -> None:
    value = np.asarray(value, dtype=np.float64)
    assert np.isfinite(value).all(), f"{name} is not finite: {value}"


def assert_probability_vector(name: str, p, axis: int = -1, atol: float = 1e-6) -> None:
    p = np.asarray(p, dtype=np.float64)
    assert_finite(name, p)
    assert (p >= -1e-12).all(), f"{name} has negative entries: {p}"
    np.testing.assert_allclose(p.sum(axis), 1.0, atol=atol, err_msg=f"{name} does not sum to one")


def assert_positive_definite(name: str, S) -> None:
    S = np.asarray(S, dtype=np.float64)
    assert_finite(name, S)
    np.testing.assert_allclose(S, np.swapaxes(S, -1, -2), rtol=1e-6, atol=1e-12 * np.abs(S).max(initial=1.0),
                               err_msg=f"{name} is not symmetric")
    eig = np.linalg.eigvalsh(0.5 * (S + np.swapaxes(S, -1, -2)))
    assert (eig > 0).all(), f"{name} is not positive definite: eigenvalues {eig}"


def assert_converged_flag(result) -> None:
    """``converged`` agrees with ``stop_reason`` (``"tol"`` iff converged)."""
    stop_reason = getattr(result, "stop_reason", None)
    if stop_reason is not None:
        assert bool(result.converged) == (stop_reason == "tol"), (result.converged, stop_reason)
