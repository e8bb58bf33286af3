r"""ODE and transport checks (course rows 8.11 and 8.22): the continuity equation and linear-ODE Gaussian paths.

* :func:`continuity_residual`: the residual of the continuity equation (8.7),
  :math:`\partial_t p_t + \nabla\cdot(p_t\, g) = 0`, for a velocity field :math:`g(t, z)` and a density path
  :math:`\log p_t(z)`, by forward-mode automatic differentiation. A field *generates* a path exactly when the
  residual vanishes; flow matching's targets and a trained continuous flow can be checked this way.
* :func:`linear_gaussian_path`: for :math:`\dot z = A z + b` and :math:`z_0 \sim \mathcal N(m_0, \Sigma_0)`, the
  law of :math:`z_t` is :math:`\mathcal N(m_t, \Sigma_t)` with (Exercise 8.5)

  .. math::
      m_t = e^{tA} m_0 + \int_0^t e^{sA}\,ds\; b, \qquad \Sigma_t = e^{tA}\,\Sigma_0\,e^{tA^\top},

  i.e. :math:`\dot m = A m + b`, :math:`\dot\Sigma = A\Sigma + \Sigma A^\top`; computed with the matrix exponential
  of the augmented matrix :math:`\begin{pmatrix} A & b \\ 0 & 0\end{pmatrix}` (Van Loan), differentiable in
  :math:`t`. A reference solution for ODE solvers and continuous flows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

__all__ = ["ContinuityResidual", "GaussianPath", "continuity_residual", "linear_gaussian_path"]

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LogDensityPath = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ContinuityResidual(NamedTuple):
    r"""``residual``: :math:`\partial_t p_t(z) + \nabla\cdot(p_t g)(z)` per point, shape ``(n,)`` (density per
    unit time); ``relative``: the same divided by :math:`p_t(z)`, i.e.
    :math:`\partial_t \log p_t + g\cdot\nabla\log p_t + \nabla\cdot g` (per unit time; along a trajectory it is
    :math:`\tfrac{d}{dt}\log p_t(z_t) + \nabla\cdot g`, the instantaneous change of variables, Remark 8.6)."""

    residual: torch.Tensor
    relative: torch.Tensor


def continuity_residual(field: Field, log_density: LogDensityPath, t: float | torch.Tensor,
                        z: torch.Tensor) -> ContinuityResidual:
    r"""The continuity-equation (8.7) residual of a field and a density path at time ``t`` and points ``z``.

    Parameters
    ----------
    field
        :math:`g(t, z)`: ``t`` a 0-dim tensor, ``z`` of shape ``(n, d)`` -> ``(n, d)``, acting row by row.
    log_density
        :math:`\log p_t(z)`: ``t`` a 0-dim tensor, ``z`` ``(n, d)`` -> ``(n,)``, row by row, differentiable.
    t
        The time.
    z
        Points, shape ``(n, d)``.

    Returns
    -------
    ContinuityResidual
        ``residual`` and ``relative`` (see :class:`ContinuityResidual`), shape ``(n,)``.

    Notes
    -----
    Uses :math:`\partial_t p + \nabla\cdot(p g) = p\,(\partial_t\log p + g\cdot\nabla\log p + \nabla\cdot g)`;
    each derivative is one forward-mode product (:func:`torch.func.jvp`), :math:`2d + 1` in all.
    """
    z = torch.as_tensor(z)
    if z.ndim != 2:
        raise ValueError(f"z: expected points of shape (n, d), got shape {tuple(z.shape)}.")
    t = torch.as_tensor(t, dtype=z.dtype)
    log_p, dlogp_dt = torch.func.jvp(lambda s: log_density(s, z), (t,), (torch.ones_like(t),))
    g = field(t, z)
    relative = dlogp_dt
    for i in range(z.shape[1]):
        e = torch.zeros_like(z)
        e[:, i] = 1.0
        _, dlogp = torch.func.jvp(lambda y: log_density(t, y), (z,), (e,))
        _, dg = torch.func.jvp(lambda y: field(t, y), (z,), (e,))
        relative = relative + g[:, i] * dlogp + dg[:, i]
    return ContinuityResidual(relative * log_p.exp(), relative)


class GaussianPath(NamedTuple):
    """``mean`` ``(T, d)`` and ``covariance`` ``(T, d, d)`` of :math:`z_t` at each of ``T`` times."""

    mean: torch.Tensor
    covariance: torch.Tensor


def linear_gaussian_path(A: torch.Tensor, b: torch.Tensor, mean0: torch.Tensor, covariance0: torch.Tensor,
                         times: torch.Tensor) -> GaussianPath:
    r"""The Gaussian law of :math:`z_t` under :math:`\dot z = A z + b`, :math:`z_0 \sim \mathcal N(m_0, \Sigma_0)`
    (Exercise 8.5): see the module docstring for :math:`m_t, \Sigma_t`.

    Parameters
    ----------
    A, b
        ``(d, d)`` and ``(d,)``.
    mean0, covariance0
        :math:`m_0` ``(d,)`` and :math:`\Sigma_0` ``(d, d)``.
    times
        ``(T,)`` times (any sign; differentiable).

    Returns
    -------
    GaussianPath

    Raises
    ------
    ValueError
        If the shapes disagree.
    """
    A, b = torch.as_tensor(A), torch.as_tensor(b)
    mean0, covariance0 = torch.as_tensor(mean0, dtype=A.dtype), torch.as_tensor(covariance0, dtype=A.dtype)
    times = torch.as_tensor(times, dtype=A.dtype).reshape(-1)
    d = A.shape[0]
    if A.shape != (d, d) or b.shape != (d,) or mean0.shape != (d,) or covariance0.shape != (d, d):
        raise ValueError(f"A, b, mean0, covariance0: expected shapes (d, d), (d,), (d,), (d, d) with one d, got "
                         f"{tuple(A.shape)}, {tuple(b.shape)}, {tuple(mean0.shape)}, {tuple(covariance0.shape)}.")
    M = torch.zeros(d + 1, d + 1, dtype=A.dtype)
    M[:d, :d], M[:d, d] = A, b.to(A.dtype)
    E = torch.linalg.matrix_exp(times[:, None, None] * M)  # [[e^{tA}, int_0^t e^{sA} ds b], [0, 1]]
    Phi, shift = E[:, :d, :d], E[:, :d, d]
    mean = Phi @ mean0 + shift
    covariance = Phi @ covariance0 @ Phi.transpose(-1, -2)
    return GaussianPath(mean, covariance)
