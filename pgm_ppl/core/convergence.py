"""Stopping rules and the warning every iterative engine gives when it stops unconverged.

Every engine with a tolerance takes ``tol`` and ``tol_rule`` (``"relative"`` or ``"absolute"``) and checks it
through :func:`has_converged`; its result says which rule was checked (``rule``) and what stopped it
(``stop_reason``: ``"tol"`` or ``"max_iter"``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pgm_ppl.core.validation import check_choice

__all__ = ["TOL_RULES", "ConvergenceWarning", "check_tol_rule", "has_converged", "warn_not_converged"]

TOL_RULES = ("relative", "absolute")


class ConvergenceWarning(UserWarning):
    """An iterative engine (EM, CAVI, OT, GP training, SVI, the training engine) stopped before its rule fired.

    Filter it like scikit-learn's ``ConvergenceWarning``:
    ``warnings.simplefilter("ignore", pgm_ppl.core.ConvergenceWarning)``.
    """


def check_tol_rule(tol_rule: Any) -> str:
    """Return ``tol_rule`` if it is ``"relative"`` or ``"absolute"``, else raise the one ValueError."""
    return check_choice(tol_rule, "tol_rule", TOL_RULES)


def has_converged(previous: Any, current: Any, tol: float, rule: str = "relative") -> bool:
    r"""The stopping rule on the change of an objective (or of an iterate) between two iterations.

    ``"absolute"``: :math:`\max|f_t - f_{t-1}| < \mathrm{tol}` (scikit-learn's mixtures apply it to the mean
    per-sample log-likelihood); ``"relative"``: :math:`\max|f_t - f_{t-1}| < \mathrm{tol}\,\max|f_{t-1}|`.
    ``previous`` and ``current`` are numbers (an objective) or arrays of one shape (messages, centroids,
    parameters), compared by their largest entry.

    A change within the objective's rounding, :math:`4\epsilon\max|f_{t-1}|` with :math:`\epsilon` the machine
    epsilon of the inputs' dtype, also counts as converged whenever ``tol > 0``: a tolerance below what the
    dtype can resolve (an absolute 1e-10 on an ELBO of 1e7, whose spacing is 2e-9) would otherwise never fire
    and the engine would run to ``max_iter`` on a stationary objective. ``tol = 0`` still means "run all
    ``max_iter`` iterations".
    """
    if isinstance(previous, (int, float)) and isinstance(current, (int, float)):  # the fast path of every loop
        change, scale, eps = abs(current - previous), abs(previous), _FLOAT64_EPS
    else:
        prev, cur = np.asarray(previous), np.asarray(current)
        dtype = np.result_type(prev, cur)
        eps = float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else _FLOAT64_EPS
        prev, cur = prev.astype(np.float64), cur.astype(np.float64)
        change = float(np.max(np.abs(cur - prev))) if cur.size else 0.0
        scale = float(np.max(np.abs(prev))) if prev.size else 0.0
    if tol > 0 and change <= 4.0 * eps * scale < np.inf:  # (a first step from -inf is not rounding)
        return True
    return change < tol if rule == "absolute" else change < tol * scale


_FLOAT64_EPS = float(np.finfo(np.float64).eps)


def warn_not_converged(engine: str, num_iterations: int, *, hint: str = "", stacklevel: int = 3) -> None:
    """Warn that ``engine`` used up ``num_iterations`` without meeting its stopping rule."""
    message = f"{engine} did not converge in {num_iterations} iterations"
    message += f"; {hint}" if hint else "; raise max_iter or loosen tol, and check the objective trace."
    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)
