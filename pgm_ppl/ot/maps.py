r"""Monge maps: the Brenier map in 1-D and between Gaussians, and the barycentric projection of a plan.

A map :math:`T` with :math:`T_\#\mu=\nu` turns samples of :math:`\mu` into samples of :math:`\nu`, so each
map here is also a generative model: call it on fresh draws from the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import ot

from ._checks import as_array, backend, check_int, check_points
from .closed_form import _check_gaussian

__all__ = ["AffineMap", "MonotoneMap1D", "barycentric_projection", "gaussian_ot_map", "monotone_map_1d"]


@dataclass(frozen=True)
class AffineMap:
    r"""Affine map :math:`T(x) = m_\nu + A(x - m_\mu) = A x + b` (the Gaussian Brenier map).

    Attributes
    ----------
    A : array (d, d), symmetric positive semi-definite
    b : array (d,)
    """

    A: Any
    b: Any

    def __call__(self, x: Any) -> Any:
        """Apply the map to points ``x`` of shape (n, d)."""
        x = check_points(x, "x")
        return x @ self.A.T + self.b


@dataclass(frozen=True)
class MonotoneMap1D:
    r"""1-D monotone rearrangement :math:`T = F_\nu^{-1}\circ F_\mu` on a table of matched quantiles.

    Attributes
    ----------
    source_quantiles, target_quantiles : arrays (K,)
        :math:`F_\mu^{-1}(t_k)` and :math:`F_\nu^{-1}(t_k)` at common levels :math:`t_k`; ``T`` interpolates
        linearly between them and extends by translation outside.
    """

    source_quantiles: np.ndarray
    target_quantiles: np.ndarray

    def __call__(self, x: Any) -> np.ndarray:
        """Apply the map to 1-D points ``x`` (any shape)."""
        x = np.asarray(x, dtype=np.float64)
        xs, ys = self.source_quantiles, self.target_quantiles
        y = np.interp(x, xs, ys)
        return np.where(x < xs[0], ys[0] + (x - xs[0]), np.where(x > xs[-1], ys[-1] + (x - xs[-1]), y))


def gaussian_ot_map(m_mu: Any, S_mu: Any, m_nu: Any, S_nu: Any) -> AffineMap:
    r"""Brenier map between Gaussians (course §5.4, row 5.13; POT ``ot.gaussian.bures_wasserstein_mapping``).

    .. math::
        T(x) = m_\nu + A(x - m_\mu),\qquad
        A = \Sigma_\mu^{-1/2}\big(\Sigma_\mu^{1/2}\Sigma_\nu\Sigma_\mu^{1/2}\big)^{1/2}\Sigma_\mu^{-1/2},

    optimal for the quadratic cost; in 1-D :math:`A = \sigma_\nu/\sigma_\mu` (Exercise 5.7). Its transport
    cost :math:`\mathbb E\|X - T(X)\|^2` equals :func:`pgm_ppl.ot.gaussian_w2_sq`.

    Parameters
    ----------
    m_mu, m_nu : means (d,)
    S_mu, S_nu : covariances (d, d); ``S_mu`` positive definite

    Returns
    -------
    AffineMap
    """
    m_mu, m_nu = as_array(m_mu, "m_mu"), as_array(m_nu, "m_nu")
    S_mu, S_nu = as_array(S_mu, "S_mu"), as_array(S_nu, "S_nu")
    _check_gaussian(m_mu, S_mu, "mu")
    _check_gaussian(m_nu, S_nu, "nu")
    A, b = ot.gaussian.bures_wasserstein_mapping(m_mu, m_nu, S_mu, S_nu)
    return AffineMap(A, b)


def monotone_map_1d(x: Any, y: Any, *, num_quantiles: int = 1000) -> MonotoneMap1D:
    r"""Estimate the 1-D Brenier map :math:`T = F_\nu^{-1}\circ F_\mu` from samples (Corollary, row 5.10).

    Parameters
    ----------
    x : samples of the source :math:`\mu`, shape (n,)
    y : samples of the target :math:`\nu`, shape (m,)
    num_quantiles : number of matched quantile levels :math:`t_k = (k - 1/2)/K`

    Returns
    -------
    MonotoneMap1D
        Non-decreasing, so it is the optimal map for every convex cost :math:`|x-y|^p`.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        raise ValueError(f"'x' and 'y' must be 1-D with >= 2 samples; got shapes {x.shape} and {y.shape}")
    num_quantiles = check_int(num_quantiles, "num_quantiles", minimum=2)
    t = (np.arange(num_quantiles) + 0.5) / num_quantiles
    return MonotoneMap1D(np.quantile(x, t), np.quantile(y, t))


def barycentric_projection(plan: Any, y: Any) -> Any:
    r"""Map estimated from a plan: :math:`\hat T(x_i) = \sum_j P_{ij} y_j / \sum_j P_{ij}`.

    For a plan supported on the graph of a map (Brenier) this recovers :math:`T(x_i)`; for an entropic plan
    it is the conditional mean :math:`\mathbb E_P[Y\mid X=x_i]`, a smoothed estimate.

    Parameters
    ----------
    plan : array (n, m) with positive row sums
    y : target atoms (m, d) (1-D: (m,))

    Returns
    -------
    array (n, d)
    """
    plan, y = as_array(plan, "plan"), check_points(y, "y")
    nx = backend(plan, y)
    if plan.ndim != 2 or plan.shape[1] != y.shape[0]:
        raise ValueError(f"'plan' must have shape (n, {y.shape[0]}) to match 'y'; got {tuple(plan.shape)}")
    rows = nx.sum(plan, axis=1)
    if float(nx.to_numpy(nx.min(rows))) <= 0:
        raise ValueError("'plan' has a row with no mass: the barycentric projection is undefined there")
    return (plan @ y) / rows[:, None]
