r"""Wasserstein geodesics (displacement / McCann interpolation) versus Euclidean (mixture) interpolation.

Course §5.5 (Figs. 5.14–5.15): the mixture path :math:`(1-t)\mu_1 + t\mu_2` fades one density into the
other (vertical), the geodesic :math:`\mu_t = ((1-t)\mathrm{Id} + tT)_\#\mu_1` moves the mass (horizontal).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pgm_ppl.core.measures import DiscreteMeasure

from ._checks import as_array, check_points, rounding_tolerance
from .maps import gaussian_ot_map

__all__ = [
    "DiscreteMeasure",
    "displacement_interpolation_1d",
    "gaussian_geodesic",
    "mccann_interpolation",
    "mixture_interpolation",
]


def _check_t(t: float) -> float:
    if not isinstance(t, (int, float, np.floating)) or not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"'t' must be a number in [0, 1]; got {t!r}")
    return float(t)


def _check_grid_histograms(grid: Any, hists: np.ndarray, tolerance: float | None = None) -> np.ndarray:
    """Check the grid and the histograms' sums (to ``tolerance``: by default the rounding level of their dtype)."""
    tolerance = rounding_tolerance(hists) if tolerance is None else tolerance
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError(f"'grid' must be a strictly increasing 1-D array; got shape {grid.shape}")
    if hists.shape[-1] != grid.size:
        raise ValueError(f"histograms must have {grid.size} bins to match 'grid'; got {hists.shape[-1]}")
    if np.any(hists < 0) or not (np.abs(hists.sum(axis=-1) - 1.0) <= tolerance).all():
        raise ValueError(f"histograms must be non-negative and each sum to 1 (to {tolerance:.2g}, the rounding level "
                         f"of their dtype); got sums {np.asarray(hists.sum(axis=-1)).tolist()}")
    return grid


def _quantile_average(grid: np.ndarray, hists: np.ndarray, weights: np.ndarray) -> DiscreteMeasure:
    r"""Measure whose quantile function is :math:`\sum_k \lambda_k F_k^{-1}` (1-D W2 barycenter / geodesic).

    The monotone multi-marginal coupling cuts (0, 1) at every cumulative weight of every histogram; on each
    piece all quantile functions are constant, so the average is one atom carrying the piece's length.
    """
    cums = np.cumsum(hists, axis=1)
    cums[:, -1] = 1.0
    levels = np.unique(np.concatenate([[0.0], cums.ravel()]))
    levels = levels[(levels >= 0) & (levels <= 1)]
    mass = np.diff(levels)
    mid = 0.5 * (levels[1:] + levels[:-1])
    idx = np.stack([np.minimum(np.searchsorted(c, mid, side="right"), grid.size - 1) for c in cums])
    positions = weights @ grid[idx]
    keep = mass > 0
    return DiscreteMeasure(positions[keep][:, None], mass[keep])


def _deposit(grid: np.ndarray, positions: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Histogram on ``grid`` from atoms, each atom's mass split linearly between its two neighbouring nodes."""
    positions = np.clip(positions, grid[0], grid[-1])
    i = np.clip(np.searchsorted(grid, positions, side="right") - 1, 0, grid.size - 2)
    frac = (positions - grid[i]) / (grid[i + 1] - grid[i])
    out = np.bincount(i, weights=masses * (1 - frac), minlength=grid.size)
    return out + np.bincount(i + 1, weights=masses * frac, minlength=grid.size)


def displacement_interpolation_1d(grid: Any, a: Any, b: Any, t: float) -> np.ndarray:
    r"""Displacement interpolation between two histograms on a 1-D grid (Fig. 5.15).

    .. math::
        F_{\mu_t}^{-1} = (1-t) F_{\mu_1}^{-1} + t F_{\mu_2}^{-1},

    the W2 geodesic in 1-D. The interpolated atoms are written back on ``grid`` by linear splitting.

    Parameters
    ----------
    grid : increasing nodes (n,)
    a, b : histograms (n,) summing to one
    t : time in [0, 1]

    Returns
    -------
    numpy array (n,): histogram of :math:`\mu_t` on ``grid``.
    """
    t = _check_t(t)
    raw = [np.asarray(a), np.asarray(b)]
    hists = np.stack([np.asarray(v, dtype=np.float64) for v in raw])
    grid = _check_grid_histograms(grid, hists, rounding_tolerance(*raw))
    measure = _quantile_average(grid, hists, np.array([1.0 - t, t]))
    return _deposit(grid, measure.points[:, 0], measure.weights)


def mixture_interpolation(a: Any, b: Any, t: float) -> Any:
    r"""Euclidean (vertical) interpolation :math:`(1-t)a + t b` of two histograms on one grid (Fig. 5.14)."""
    t = _check_t(t)
    a, b = as_array(a, "a"), as_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"'a' and 'b' must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    return (1.0 - t) * a + t * b


def mccann_interpolation(x: Any, y: Any, plan: Any, t: float, *, threshold: float | None = None) -> DiscreteMeasure:
    r"""McCann interpolation of discrete measures through an optimal plan.

    .. math::
        \mu_t = \sum_{ij} P_{ij}\, \delta_{(1-t)x_i + t y_j},

    the W2 geodesic between :math:`\mu=\sum_i a_i\delta_{x_i}` and :math:`\nu=\sum_j b_j\delta_{y_j}` when
    :math:`P` is an optimal plan for the squared Euclidean cost (e.g. :func:`pgm_ppl.ot.exact_ot`).

    Parameters
    ----------
    x, y : atoms (n, d), (m, d)
    plan : (n, m) optimal plan
    t : time in [0, 1]
    threshold : plan entries at or below it are dropped; default: the plan's mass times the machine epsilon of
        its dtype (entries that small are rounding noise, e.g. a Sinkhorn plan's underflowing tails; dropping
        them all changes the mass by at most :math:`nm\epsilon` relative)

    Returns
    -------
    DiscreteMeasure
        Its weights are the kept plan entries (they sum to the plan's mass).

    Raises
    ------
    ValueError
        For a plan of the wrong shape, with negative or non-finite entries, or a negative ``threshold``.
    """
    t = _check_t(t)
    x, y = np.asarray(check_points(x, "x"), float), np.asarray(check_points(y, "y"), float)
    raw = np.asarray(plan.detach().cpu() if hasattr(plan, "detach") else plan)
    plan = raw.astype(np.float64)
    if plan.shape != (x.shape[0], y.shape[0]):
        raise ValueError(f"'plan' must have shape {(x.shape[0], y.shape[0])}; got {plan.shape}")
    if not np.isfinite(plan).all() or np.any(plan < 0):
        raise ValueError("'plan' must be finite and non-negative (a transport plan)")
    eps = np.finfo(raw.dtype).eps if np.issubdtype(raw.dtype, np.floating) else np.finfo(np.float64).eps
    if threshold is None:
        threshold = float(eps * plan.sum())
    elif not (isinstance(threshold, (int, float, np.floating)) and 0 <= threshold < np.inf):
        raise ValueError(f"'threshold' must be a finite number >= 0; got {threshold!r}")
    i, j = np.nonzero(plan > threshold)
    return DiscreteMeasure((1.0 - t) * x[i] + t * y[j], plan[i, j])


def gaussian_geodesic(m0: Any, S0: Any, m1: Any, S1: Any, t: float) -> tuple[np.ndarray, np.ndarray]:
    r"""W2 geodesic between Gaussians in closed form (Exercise 5.6, any dimension).

    With the Brenier map :math:`T(x) = m_1 + A(x - m_0)` (:func:`pgm_ppl.ot.gaussian_ot_map`),

    .. math::
        \mu_t = \mathcal N\big((1-t)m_0 + t m_1,\ M_t \Sigma_0 M_t\big),\qquad M_t = (1-t)I + tA;

    in 1-D :math:`\sigma_t = (1-t)\sigma_0 + t\sigma_1`.

    Returns
    -------
    (mean (d,), covariance (d, d))
    """
    t = _check_t(t)
    m0, m1 = np.asarray(m0, float), np.asarray(m1, float)
    S0, S1 = np.asarray(S0, float), np.asarray(S1, float)
    A = gaussian_ot_map(m0, S0, m1, S1).A
    M = (1.0 - t) * np.eye(m0.shape[0]) + t * A
    return (1.0 - t) * m0 + t * m1, M @ S0 @ M.T
