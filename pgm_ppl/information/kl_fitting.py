r"""Fitting a Gaussian by minimising a KL divergence (course chapter 1: Ex. 1.12, Fig. 1.5, exercise 4).

Forward and reverse KL pick different Gaussians :math:`q = \mathcal N(\mu, \sigma^2)` for a multimodal
target :math:`p`:

- forward, :math:`\mathrm{KL}(p \| q) = -h(p) - \int p \log q`: *mode covering*; its minimiser matches the
  mean and variance of :math:`p` (this is maximum likelihood, eqs. (1.43)-(1.46));
- reverse, :math:`\mathrm{KL}(q \| p) = \int q \log q - \int q \log p`: *mode seeking*; it settles on one mode.

:func:`fit_gaussian_kl` minimises either by gradient descent (Adam) on a quadrature grid in 1-D, with
gradients from torch autodiff. :func:`kl_gradient_flow` runs the plain gradient-descent recursions
(1.41)-(1.42) between two Gaussians, with the exact gradient of (1.38) or the notes' (1.40).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

DIRECTIONS = ("forward", "reverse")


@dataclass(frozen=True)
class KLFitResult:
    """Result of :func:`fit_gaussian_kl`: the fitted mean and standard deviation, the final KL, and traces."""

    mean: float
    std: float
    kl: float
    mean_trace: np.ndarray
    std_trace: np.ndarray
    kl_trace: np.ndarray


def fit_gaussian_kl(log_target: Callable[[torch.Tensor], torch.Tensor], direction: str, *, lower: float,
                    upper: float, init_mean: float = 0.0, init_std: float = 1.0, num_steps: int = 2000,
                    learning_rate: float = 0.05, num_grid: int = 4001) -> KLFitResult:
    r"""Fit :math:`\mathcal N(\mu, \sigma^2)` to a 1-D target by minimising the forward or reverse KL.

    Both integrals are computed by the trapezoidal rule on ``num_grid`` points of [lower, upper]; the
    target is renormalised on the grid, so ``log_target`` may be unnormalised. The standard deviation is
    optimised through :math:`\log \sigma`.

    Parameters
    ----------
    log_target
        Vectorised torch log-density of :math:`p` (float64 tensors in and out).
    direction
        ``"forward"`` for :math:`\mathrm{KL}(p\|q)` or ``"reverse"`` for :math:`\mathrm{KL}(q\|p)`.
    lower, upper
        Grid range, wide enough to hold both :math:`p` and :math:`q`.
    init_mean, init_std
        Starting Gaussian (the reverse fit depends on it: it finds the mode it starts near).
    num_steps, learning_rate
        Adam iterations and step size.
    num_grid
        Number of quadrature points.

    Returns
    -------
    KLFitResult

    Raises
    ------
    ValueError
        On an unknown direction, a bad range or a non-positive ``init_std``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"Unknown direction {direction!r}; expected 'forward' or 'reverse'.")
    if not lower < upper or init_std <= 0 or num_grid < 3:
        raise ValueError(f"need lower < upper, init_std > 0 and num_grid >= 3; got {lower}, {upper}, {init_std}, "
                         f"{num_grid}.")
    x = torch.linspace(lower, upper, num_grid, dtype=torch.float64)
    log_p = log_target(x).to(torch.float64)
    log_p = log_p - torch.log(torch.trapezoid(torch.exp(log_p), x))
    p = torch.exp(log_p)
    mu = torch.tensor(float(init_mean), dtype=torch.float64, requires_grad=True)
    log_sigma = torch.tensor(math.log(init_std), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([mu, log_sigma], lr=learning_rate)
    means, stds, kls = [], [], []
    for _ in range(num_steps + 1):
        optimiser.zero_grad()
        kl = _kl_on_grid(x, p, log_p, mu, log_sigma, direction)
        means.append(mu.item())
        stds.append(math.exp(log_sigma.item()))
        kls.append(kl.item())
        if len(kls) > num_steps:
            break
        kl.backward()
        optimiser.step()
    return KLFitResult(means[-1], stds[-1], kls[-1], np.asarray(means), np.asarray(stds), np.asarray(kls))


def _kl_on_grid(x: torch.Tensor, p: torch.Tensor, log_p: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor,
                direction: str) -> torch.Tensor:
    log_q = -0.5 * ((x - mu) / torch.exp(log_sigma)) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)
    if direction == "forward":
        integrand = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
    else:
        integrand = torch.exp(log_q) * (log_q - log_p)
    return torch.trapezoid(integrand, x)


@dataclass(frozen=True)
class GradientFlow:
    """Iterates :math:`(\\mu_n, \\sigma_n)` of :func:`kl_gradient_flow` and the KL at each."""

    mean: np.ndarray
    std: np.ndarray
    kl: np.ndarray


def kl_gradient_flow(target_mean: float, target_std: float, init_mean: float, init_std: float, *,
                     step_mean: float, step_std: float, num_steps: int, exact_gradient: bool = True
                     ) -> GradientFlow:
    r"""Gradient descent on :math:`\mathrm{KL}(\mathcal N(\mu_0, \sigma_0^2) \| \mathcal N(\mu_n, \sigma_n^2))` (Ex. 1.12).

    .. math::
        \mu_{n+1} = \mu_n - \eta_\mu \frac{\mu_n - \mu_0}{\sigma_n^2}, \qquad
        \sigma_{n+1} = \sigma_n - \eta_\sigma \frac{\sigma_n^2 - \sigma_0^2 - c\,(\mu_n - \mu_0)^2}{\sigma_n^3},

    with :math:`c = 1` for the exact gradient of (1.38) and :math:`c = 0` for the notes' (1.40), which
    drops the :math:`(\mu_n - \mu_0)^2` term (erratum; Fig. 1.5 uses it). Fig. 1.5: target (0, 1),
    start (10, 20), :math:`\eta_\mu = 10`, :math:`\eta_\sigma = 6.6`, 31 iterates.

    Returns
    -------
    GradientFlow
        ``num_steps + 1`` iterates, starting at the initial point.

    Raises
    ------
    ValueError
        If a standard deviation is not positive, or an iterate's becomes non-positive (step too large).
    """
    if target_std <= 0 or init_std <= 0:
        raise ValueError(f"standard deviations must be positive; got {target_std} and {init_std}.")
    c = 1.0 if exact_gradient else 0.0
    mu, sigma = [float(init_mean)], [float(init_std)]
    for n in range(num_steps):
        m, s = mu[-1], sigma[-1]
        mu.append(m - step_mean * (m - target_mean) / s ** 2)
        sigma.append(s - step_std * (s ** 2 - target_std ** 2 - c * (m - target_mean) ** 2) / s ** 3)
        if sigma[-1] <= 0:
            raise ValueError(f"sigma became non-positive at step {n + 1}; reduce step_std.")
    mu_a, sigma_a = np.asarray(mu), np.asarray(sigma)
    kl = np.log(sigma_a / target_std) + (target_std ** 2 + (target_mean - mu_a) ** 2) / (2 * sigma_a ** 2) - 0.5
    return GradientFlow(mu_a, sigma_a, kl)
