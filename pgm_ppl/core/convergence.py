"""Stopping rules and the warning every iterative engine gives when it stops unconverged."""

from __future__ import annotations

import warnings

__all__ = ["ConvergenceWarning", "has_converged", "warn_not_converged"]


class ConvergenceWarning(UserWarning):
    """An iterative engine (EM, CAVI, OT, GP training, SVI, the training engine) stopped before its rule fired.

    Filter it like scikit-learn's ``ConvergenceWarning``:
    ``warnings.simplefilter("ignore", pgm_ppl.core.ConvergenceWarning)``.
    """


def has_converged(previous: float, current: float, tol: float, rule: str = "relative") -> bool:
    r"""The stopping rule on an objective's change between two iterations.

    ``"absolute"``: :math:`|f_t - f_{t-1}| < \mathrm{tol}` (scikit-learn's mixtures apply it to the mean
    per-sample log-likelihood); ``"relative"``: :math:`|f_t - f_{t-1}| < \mathrm{tol}\,|f_{t-1}|`.
    """
    change = abs(current - previous)
    return change < tol if rule == "absolute" else change < tol * abs(previous)


def warn_not_converged(engine: str, num_iterations: int, *, hint: str = "", stacklevel: int = 3) -> None:
    """Warn that ``engine`` used up ``num_iterations`` without meeting its stopping rule."""
    message = f"{engine} did not converge in {num_iterations} iterations"
    message += f"; {hint}" if hint else "; raise max_iter or loosen tol, and check the objective trace."
    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)
