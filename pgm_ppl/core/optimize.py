r"""The one mode finder: BFGS, then Newton steps with the exact Hessian, on backend-supplied callables.

Both the Laplace approximation (:func:`pgm_ppl.inference.laplace_approximation`, JAX derivatives) and the
maximum-likelihood fitter (:func:`pgm_ppl.information.autodiff_mle`, torch derivatives) need
:math:`\hat z = \arg\min_z f(z)` and :math:`\nabla^2 f(\hat z)`. They differ only in how the derivatives are
computed, so each passes numpy-in, numpy-out callables and this module does the rest: scipy's BFGS to a
gradient tolerance, then up to ``newton_steps`` Newton steps :math:`z \leftarrow z - H^{-1}\nabla f` with the
exact Hessian, each kept only if it does not raise :math:`f` (a safeguard where the Hessian is not positive
definite or the quadratic model is poor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

__all__ = ["ModeResult", "find_mode"]

ValueAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
Hessian = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class ModeResult:
    r"""A minimiser of :math:`f` and the derivatives there.

    Attributes
    ----------
    mode
        :math:`\hat z`, shape ``(d,)``.
    value
        :math:`f(\hat z)`.
    gradient
        :math:`\nabla f(\hat z)`.
    hessian
        :math:`\nabla^2 f(\hat z)`, symmetrised.
    converged
        Whether the largest gradient entry at :math:`\hat z` is below ``tol`` (or 1e-6, whichever is larger:
        the Newton polish reaches rounding level when BFGS has found the basin).
    num_iterations
        BFGS iterations plus the Newton steps kept.
    stop_reason
        ``"tol"`` or ``"max_iter"``.
    """

    mode: np.ndarray
    value: float
    gradient: np.ndarray
    hessian: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str


def find_mode(value_and_grad: ValueAndGrad, hessian: Hessian, init: np.ndarray, *, max_iter: int = 500,
              tol: float = 1e-9, newton_steps: int = 3) -> ModeResult:
    r"""Minimise :math:`f` from ``init`` by BFGS, polish by Newton, and return the Hessian at the result.

    Parameters
    ----------
    value_and_grad
        ``z -> (f(z), \nabla f(z))`` on float64 numpy vectors.
    hessian
        ``z -> \nabla^2 f(z)``, shape ``(d, d)``.
    init
        Starting point, shape ``(d,)`` (a scalar is taken as ``(1,)``).
    max_iter
        BFGS iteration cap.
    tol
        BFGS gradient tolerance (largest absolute entry).
    newton_steps
        Newton steps after BFGS (0 for none).
    """
    z0 = np.atleast_1d(np.asarray(init, dtype=np.float64)).ravel()

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(z)
        value = float(value)
        return (value if np.isfinite(value) else np.inf), np.asarray(grad, dtype=np.float64).ravel()

    opt = minimize(objective, z0, jac=True, method="BFGS", options={"gtol": tol, "maxiter": max_iter})
    z, num_iterations = np.asarray(opt.x, dtype=np.float64), int(opt.nit)
    value, grad = objective(z)
    for _ in range(newton_steps):
        try:
            step = np.linalg.solve(np.asarray(hessian(z), dtype=np.float64), grad)
        except np.linalg.LinAlgError:
            break
        candidate = z - step
        new_value, new_grad = objective(candidate)
        if not new_value <= value:
            break
        z, value, grad, num_iterations = candidate, new_value, new_grad, num_iterations + 1
    H = np.asarray(hessian(z), dtype=np.float64)
    H = 0.5 * (H + H.T)
    converged = bool(np.max(np.abs(grad), initial=0.0) <= max(tol, 1e-6))
    return ModeResult(z, value, grad, H, converged, num_iterations, "tol" if converged else "max_iter")
