r"""Dynamic optimal transport (Benamou–Brenier) on 1-D and 2-D grids by proximal splitting.

Benamou & Brenier (2000) write :math:`W_2^2` as the least kinetic energy of a density path,

.. math::
    W_2^2(\mu_0,\mu_1) = \min_{(f, m)} \int_0^1\!\!\int_{[0,1]^d} \frac{\|m(t,x)\|^2}{f(t,x)}\,dx\,dt
    \quad\text{s.t.}\quad \partial_t f + \nabla_x\!\cdot m = 0,\ f(0)=\mu_0,\ f(1)=\mu_1,\ m\cdot n = 0
    \text{ on } \partial[0,1]^d,

with momentum :math:`m = f v`. The optimal :math:`f(t)` is the displacement interpolation (course Fig. 5.15)
and :math:`v` the velocity that OT flow matching regresses (chapter 8). POT has no dynamic solver, so this
module implements the Douglas–Rachford scheme of Papadakis, Peyré & Oudet (2014) on a staggered grid:

* ``U`` — staggered variables (:math:`f` on time faces, :math:`m_k` on faces normal to axis k) where the
  continuity equation and the boundary conditions are imposed exactly (a projection solved by a discrete
  cosine transform Poisson solve);
* ``V`` — cell-centred variables where the kinetic energy is evaluated (its proximal map is a per-cell
  cubic equation);
* the splitting alternates these two proximal steps with the projection onto :math:`V = I(U)`, where
  :math:`I` averages neighbouring faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
from scipy.fft import dctn, idctn

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import check_tol_rule, has_converged

from ._checks import check_int, check_positive
from .discrete import OTConvergenceWarning

__all__ = ["DynamicOTResult", "benamou_brenier"]


@dataclass(frozen=True)
class DynamicOTResult:
    """Solution of the Benamou–Brenier problem on a grid.

    Attributes
    ----------
    density : array (T+1, *grid)
        Density :math:`f(t_k, \\cdot)` (per unit volume) at times :math:`t_k = k/T`; row 0 and row T are the
        inputs.
    momentum : array (d, T, *grid)
        Cell-centred momentum :math:`m = f v` at times :math:`(k + 1/2)/T`.
    energy : float
        Kinetic energy :math:`\\int\\!\\int \\|m\\|^2/f`, the estimate of :math:`W_2^2` (no factor 1/2).
    energy_trace, gap_trace : numpy arrays
        Energy and the relative mismatch :math:`\\|V - I(U)\\|/\\|V\\|` after each iteration.
    num_iterations : int
    converged : bool
        Whether the mismatch fell below ``tol`` (under ``rule``).
    stop_reason, rule : str
        ``"tol"`` or ``"max_iter"``, and the tolerance rule checked (``tol_rule``).
    """

    density: np.ndarray
    momentum: np.ndarray
    energy: float
    energy_trace: np.ndarray
    gap_trace: np.ndarray
    num_iterations: int
    converged: bool
    stop_reason: str = "tol"
    rule: str = "relative"


# --- staggered/centred operators ------------------------------------------------------------------------


def _interp(U: list[np.ndarray]) -> list[np.ndarray]:
    """I(U): average the two faces of every cell, component c along array axis c."""
    return [0.5 * (_along(u, c, slice(1, None)) + _along(u, c, slice(None, -1))) for c, u in enumerate(U)]


def _along(u: np.ndarray, axis: int, s: slice) -> np.ndarray:
    idx = [slice(None)] * u.ndim
    idx[axis] = s
    return u[tuple(idx)]


def _interp_adjoint(V: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for c, v in enumerate(V):
        pad = [(0, 0)] * v.ndim
        pad[c] = (1, 0)
        left = np.pad(v, pad)
        pad[c] = (0, 1)
        out.append(0.5 * (left + np.pad(v, pad)))
    return out


def _graph_inverses(shape_centred: tuple[int, ...]) -> list[np.ndarray]:
    """(Id + I^T I)^{-1} along each component's axis (an (n+1) x (n+1) matrix per axis)."""
    inverses = []
    for n in shape_centred:
        Imat = 0.5 * (np.eye(n, n + 1) + np.eye(n, n + 1, k=1))
        inverses.append(np.linalg.inv(np.eye(n + 1) + Imat.T @ Imat))
    return inverses


def _project_graph(U: list[np.ndarray], V: list[np.ndarray], inverses: list[np.ndarray]):
    """Projection onto {V = I(U)}: U' = (Id + I*I)^{-1}(U + I*V), V' = I(U')."""
    rhs = [u + w for u, w in zip(U, _interp_adjoint(V))]
    U_new = [np.moveaxis(np.tensordot(inv, np.moveaxis(r, c, 0), axes=1), 0, c)
             for c, (inv, r) in enumerate(zip(inverses, rhs))]
    return U_new, _interp(U_new)


class _ContinuityProjector:
    """Projection of the staggered U onto {div U = 0, f(0)=f0, f(1)=f1, m.n = 0} via a DCT Poisson solve."""

    def __init__(self, f0: np.ndarray, f1: np.ndarray, shape_centred: tuple[int, ...]):
        self.f0, self.f1 = f0, f1
        self.h = [1.0 / n for n in shape_centred]  # cell sizes: time first, then space axes
        eig = np.zeros(shape_centred)
        for c, n in enumerate(shape_centred):
            lam = (2.0 - 2.0 * np.cos(np.pi * np.arange(n) / n)) / self.h[c] ** 2
            eig = eig + lam.reshape([-1 if k == c else 1 for k in range(len(shape_centred))])
        eig.flat[0] = 1.0  # the constant mode is in the kernel; its coefficient is set to zero below
        self.eig = eig

    def __call__(self, U: list[np.ndarray]) -> list[np.ndarray]:
        U = [u.copy() for u in U]
        U[0][0], U[0][-1] = self.f0, self.f1
        for c in range(1, len(U)):
            idx = [slice(None)] * U[c].ndim
            idx[c] = [0, -1]
            U[c][tuple(idx)] = 0.0
        div = sum(np.diff(u, axis=c) / self.h[c] for c, u in enumerate(U))
        p_hat = dctn(div, type=2, norm="ortho") / self.eig
        p_hat.flat[0] = 0.0
        p = idctn(p_hat, type=2, norm="ortho")
        for c, u in enumerate(U):
            idx = [slice(None)] * u.ndim
            idx[c] = slice(1, -1)
            u[tuple(idx)] += np.diff(p, axis=c) / self.h[c]
        return U


def _prox_kinetic(V: list[np.ndarray], gamma: float, newton_steps: int = 30) -> list[np.ndarray]:
    r"""Per-cell prox of :math:`\gamma\|m\|^2/(2f)`: f solves :math:`(f-\tilde f)(f+\gamma)^2 = \gamma\|\tilde m\|^2/2`.

    For :math:`f > \max(\tilde f, 0)` the cubic is increasing and convex, so Newton from the upper bound
    :math:`\max(\tilde f,0) + c^{1/3}` decreases monotonically to its root; if the cubic is non-negative at 0,
    the prox is :math:`(f, m) = (0, 0)`.
    """
    f_t, m_t = V[0], np.stack(V[1:])
    c = 0.5 * gamma * np.sum(m_t**2, axis=0)
    lo = np.maximum(f_t, 0.0)
    f = lo + np.cbrt(c) + 1e-300
    for _ in range(newton_steps):
        P = (f - f_t) * (f + gamma) ** 2 - c
        dP = (f + gamma) ** 2 + 2.0 * (f - f_t) * (f + gamma)
        f = np.maximum(f - P / dP, lo)
    positive = (-f_t * gamma**2 - c) < 0  # cubic negative at 0: a positive root exists
    f = np.where(positive, f, 0.0)
    m = np.where(positive, f / (f + gamma), 0.0) * m_t
    return [f, *m]


def _energy(V: list[np.ndarray], cell_volume: float) -> float:
    f, m2 = V[0], sum(v**2 for v in V[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(f > 0, m2 / np.where(f > 0, f, 1.0), np.where(m2 > 0, np.inf, 0.0))
    return float(np.sum(e) * cell_volume)


def benamou_brenier(
    a: np.ndarray,
    b: np.ndarray,
    *,
    num_time_steps: int = 32,
    max_iter: int = 2000,
    gamma: float = 1.0,
    relaxation: float = 1.0,
    tol: float = 1e-6,
    tol_rule: str = "relative",
) -> DynamicOTResult:
    r"""Solve dynamic OT between two histograms on the unit interval or square (Douglas–Rachford).

    Parameters
    ----------
    a, b : arrays (n,) or (n1, n2)
        Source and target histograms (each summing to one) on the cells of a regular grid of
        :math:`[0,1]^d`, cell centres :math:`(i + 1/2)/n`.
    num_time_steps : time cells T
    max_iter : Douglas–Rachford iterations (maximum)
    gamma : proximal step :math:`\gamma > 0`
    relaxation : Douglas–Rachford relaxation :math:`\alpha\in(0, 2)`
    tol, tol_rule : stop when the mismatch :math:`\|V - I(U)\|` is below ``tol`` :math:`\|V\|`
        (``tol_rule="relative"``, the default) or below ``tol`` (``"absolute"``); ``gap_trace`` is relative

    Returns
    -------
    DynamicOTResult
        ``energy`` estimates :math:`W_2^2` between the histograms (compare with :func:`pgm_ppl.ot.ot_cost_1d`
        on the cell centres; the discretisation error shrinks with the grid).

    References
    ----------
    Papadakis, Peyré, Oudet (2014), Optimal transport with proximal splitting, SIAM J. Imaging Sci. 7(1).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2) or min(a.shape) < 2:
        raise ValueError(f"'a' and 'b' must be histograms of one shape, (n,) or (n1, n2); got {a.shape} and {b.shape}")
    if np.any(a < 0) or np.any(b < 0) or not np.isclose(a.sum(), 1.0) or not np.isclose(b.sum(), 1.0):
        raise ValueError("'a' and 'b' must be non-negative and each sum to 1")
    T = check_int(num_time_steps, "num_time_steps", minimum=2)
    max_iter, tol = check_int(max_iter, "max_iter"), check_positive(tol, "tol")
    rule = check_tol_rule(tol_rule)
    gamma = check_positive(gamma, "gamma")
    alpha = check_positive(relaxation, "relaxation")
    if alpha >= 2:
        raise ValueError(f"'relaxation' must lie in (0, 2); got {alpha}")
    shape = (T, *a.shape)
    cell_volume = 1.0 / np.prod(shape)
    f0, f1 = a * a.size, b * b.size  # histograms -> densities per unit volume
    project_C = _ContinuityProjector(f0, f1, shape)
    inverses = _graph_inverses(shape)
    t = np.linspace(0.0, 1.0, T + 1).reshape((-1,) + (1,) * a.ndim)
    U = [(1 - t) * f0 + t * f1] + [np.zeros(shape[:c] + (shape[c] + 1,) + shape[c + 1:]) for c in range(1, len(shape))]
    zU, zV = U, _interp(U)
    energies, gaps = [], []
    for it in range(max_iter):
        xU, xV = project_C(zU), _prox_kinetic(zV, gamma)
        yU, yV = _project_graph([2 * x - z for x, z in zip(xU, zU)], [2 * x - z for x, z in zip(xV, zV)], inverses)
        zU = [z + alpha * (y - x) for z, y, x in zip(zU, yU, xU)]
        zV = [z + alpha * (y - x) for z, y, x in zip(zV, yV, xV)]
        IU = _interp(xU)
        mismatch, size = (np.sqrt(sum(np.sum(u) for u in parts)) for parts in
                          ([(v - w) ** 2 for v, w in zip(xV, IU)], [v**2 for v in xV]))
        energies.append(_energy(xV, cell_volume))
        gaps.append(mismatch / size)
        converged = has_converged(size, size + mismatch, tol, rule)  # mismatch against tol * |V| or tol
        if converged:
            break
    if not converged:
        warnings.warn(f"benamou_brenier did not reach its tolerance in {max_iter} iterations (relative gap "
                      f"{gaps[-1]:.3g}, tol={tol:g}, {rule}); raise 'max_iter' or 'tol'.", OTConvergenceWarning,
                      stacklevel=user_stacklevel() - 1)
    return DynamicOTResult(xU[0], np.stack(xV[1:]), energies[-1], np.array(energies), np.array(gaps),
                           it + 1, bool(converged), "tol" if converged else "max_iter", rule)
