"""The Laplace approximation (course §3.3): a Gaussian at the mode with the inverse Hessian as covariance.

:func:`laplace_approximation` works on any JAX-traceable log density of a vector; :func:`laplace` on any
model written with ``pgm_ppl.pyro`` / ``dist`` (or a native NumPyro model), in the unconstrained space of its
latents, returning a :class:`~pgm_ppl.core.result.Fit`. :func:`logistic_regression_newton` is the
Newton iteration of course Example 3.4.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy.special import expit

from pgm_ppl.backend import to_backend, to_numpy, use_backend
from pgm_ppl.core.convergence import check_tol_rule, has_converged
from pgm_ppl.core.linalg import ROUNDING_JITTER, cholesky
from pgm_ppl.core.optimize import find_mode
from pgm_ppl.core.result import Fit
from pgm_ppl.inference.inputs import model_inputs


class LaplaceResult(NamedTuple):
    """Gaussian :math:`\\mathcal N(\\hat z, H^{-1})` at the mode, and the Laplace evidence estimate
    :math:`\\log \\tilde p(\\hat z) + \\tfrac d2 \\log 2\\pi - \\tfrac12 \\log\\det H`."""

    mode: np.ndarray
    cov: np.ndarray
    precision: np.ndarray
    log_density_at_mode: float
    log_evidence: float


def laplace_approximation(log_density: Callable, init: np.ndarray) -> LaplaceResult:
    """Laplace approximation of the density proportional to ``exp(log_density(z))``, course §3.3.

    .. math::
        \\hat z = \\arg\\max_z \\log \\tilde p(z), \\qquad H = -\\nabla^2 \\log \\tilde p(\\hat z), \\qquad
        q(z) = \\mathcal N(z; \\hat z, H^{-1}).

    Only the unnormalised density is needed (Remark 3.6). The mode is found by
    :func:`pgm_ppl.core.optimize.find_mode` (BFGS, then Newton steps with the exact Hessian), here with JAX
    derivatives; :func:`pgm_ppl.information.autodiff_mle` runs the same finder on torch derivatives.

    Parameters
    ----------
    log_density
        JAX-traceable function of a vector ``(d,)`` returning a scalar.
    init
        Starting point of the optimisation, shape ``(d,)``.

    Raises
    ------
    ValueError
        If the Hessian at the optimum is not negative definite (no local maximum was found).
    """
    with jax.enable_x64(True):
        z0 = jnp.atleast_1d(jnp.asarray(init, dtype=jnp.float64))
        value_and_grad = jax.jit(jax.value_and_grad(lambda z: -log_density(z)))
        hessian = jax.jit(jax.hessian(lambda z: -log_density(z)))

        def objective(z):
            value, grad = value_and_grad(jnp.asarray(z))
            return float(value), np.asarray(grad, dtype=np.float64)

        found = find_mode(objective, lambda z: np.asarray(hessian(jnp.asarray(z))), np.asarray(z0), tol=1e-9,
                          max_iter=200 * int(z0.size))  # scipy's BFGS default cap
    mode, H, value = found.mode, found.hessian, -found.value
    eigenvalues = np.linalg.eigvalsh(H)
    if eigenvalues.min() <= 0:
        raise ValueError(f"The Hessian of -log_density at {mode} has eigenvalue {eigenvalues.min():.3g} <= 0: "
                         "no local maximum; try another init.")
    _, log_det = np.linalg.slogdet(H)
    log_evidence = value + 0.5 * len(mode) * np.log(2 * np.pi) - 0.5 * log_det
    return LaplaceResult(mode, np.linalg.inv(H), H, value, float(log_evidence))


def laplace(model: Callable, data: Any = None, *, num_samples: int = 1000, seed: int = 0,
            model_kwargs: dict | None = None) -> Fit:
    """Laplace approximation of the posterior of a model's continuous latents, with draws.

    The approximation is Gaussian in the unconstrained space :math:`u = T^{-1}(z)` of the latents (as in
    Pyro's and NumPyro's ``AutoLaplaceApproximation``): the mode and Hessian of
    :math:`\\log p(x, T(u)) + \\log|\\det J_T(u)|` come from :func:`laplace_approximation`; draws
    :math:`u \\sim \\mathcal N(\\hat u, H^{-1})` are mapped back through :math:`T`.

    Parameters
    ----------
    model, data, model_kwargs
        As for :func:`pgm_ppl.fit`; the model runs on NumPyro and must have no discrete latents.
    num_samples
        Draws from the approximation (one chain).
    seed
        Seed of the model initialisation and of the draws.

    Returns
    -------
    Fit
        ``method="laplace"``; ``posterior`` holds the draws ``(1, num_samples, ...)``, ``params`` the
        unconstrained ``mode``, ``cov`` and the Laplace ``log_evidence``.
    """
    from numpyro.infer.util import initialize_model

    args, kwargs = model_inputs(data, model_kwargs)
    start = time.perf_counter()
    with use_backend("numpyro"):
        args, kwargs = to_backend(args, "numpyro"), to_backend(kwargs, "numpyro")
        info = initialize_model(jax.random.PRNGKey(seed), model, model_args=args, model_kwargs=kwargs)
        flat, unravel = ravel_pytree(info.param_info.z)
        approx = laplace_approximation(lambda u: -info.potential_fn(unravel(u)), np.asarray(flat))
        noise = np.random.default_rng(seed).standard_normal((num_samples, len(flat)))
        root = cholesky(approx.cov, name="covariance H^-1 of the Laplace approximation",
                        fix="the Hessian at the mode is nearly singular; reparameterise or add prior information",
                        max_jitter=ROUNDING_JITTER)
        draws = approx.mode + noise @ root.T
        constrained = jax.vmap(lambda u: info.postprocess_fn(unravel(u)))(jnp.asarray(draws))
    posterior = {name: to_numpy(value)[None] for name, value in constrained.items()}
    dims = {name: [f"{name}_dim_{i}" for i in range(value.ndim - 2)] for name, value in posterior.items()}
    return Fit(method="laplace", backend="numpyro", model=model, args=args, kwargs=kwargs, posterior=posterior,
               dims=dims, seconds=time.perf_counter() - start,
               params={"mode": approx.mode, "cov": approx.cov, "log_evidence": np.asarray(approx.log_evidence)})


@dataclass(frozen=True, slots=True)
class NewtonResult:
    """MAP weight ``mode``, Laplace ``variance`` :math:`-1/\\ell''(\\hat w)`, the Newton ``trace``, whether the
    stopping rule fired, what stopped Newton (``stop_reason`` ``"tol"`` or ``"max_iter"``) and the ``rule``."""

    mode: float
    variance: float
    trace: np.ndarray
    converged: bool = True
    stop_reason: str = "tol"
    rule: str = "absolute"


def logistic_regression_newton(x: np.ndarray, y: np.ndarray, *, prior_var: float = 1.0, init: float = 0.0,
                               max_iter: int = 50, tol: float = 1e-12,
                               tol_rule: str = "absolute") -> NewtonResult:
    """MAP and Laplace variance of 1-D Bayesian logistic regression by Newton's method, course Example 3.4.

    Model :math:`w \\sim \\mathcal N(0, \\tau^2)`, :math:`y_n \\sim \\mathrm{Bernoulli}(\\sigma(w x_n))`.
    With :math:`s_n = \\sigma(w x_n)`, the gradient (3.4) and Hessian (3.5) of the log posterior are

    .. math::
        \\ell'(w) = \\sum_n (y_n - s_n) x_n - w/\\tau^2, \\qquad
        \\ell''(w) = -\\sum_n s_n (1 - s_n) x_n^2 - 1/\\tau^2,

    and Newton's update is :math:`w \\leftarrow w - \\ell'(w)/\\ell''(w)`; :math:`\\ell'' < 0` everywhere,
    so the iteration converges to the unique mode. It stops when the step is below ``tol``
    (``tol_rule="absolute"``, the default) or below ``tol`` times :math:`|w|` (``"relative"``).
    """
    rule = check_tol_rule(tol_rule)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {x.shape} and {y.shape}.")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y must hold only 0 and 1.")
    if not prior_var > 0:
        raise ValueError(f"prior_var must be positive, got {prior_var}.")
    w, trace, converged = float(init), [float(init)], False
    for _ in range(max_iter):
        s = expit(w * x)
        grad = np.sum((y - s) * x) - w / prior_var
        hess = -np.sum(s * (1 - s) * x**2) - 1 / prior_var
        w = w - grad / hess
        trace.append(w)
        if has_converged(trace[-2], w, tol, rule):
            converged = True
            break
    s = expit(w * x)
    return NewtonResult(w, float(1 / (np.sum(s * (1 - s) * x**2) + 1 / prior_var)), np.array(trace), converged,
                        "tol" if converged else "max_iter", rule)
