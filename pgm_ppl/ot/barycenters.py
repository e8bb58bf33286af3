r"""Wasserstein barycenters (course §5.5, Figs. 5.16–5.17; Exercises 5.8–5.9) on POT's solvers.

.. math::
    \bar\mu = \arg\min_\mu \sum_{k=1}^K \lambda_k W_p^p(\mu, \mu_k),\qquad \lambda_k > 0,\ \sum_k\lambda_k = 1.

1-D: exact by averaging quantile functions. Point clouds: free support (POT ``ot.lp.free_support_barycenter``).
Histograms on a common support: exact LP (``ot.lp.barycenter``) or entropic (``ot.bregman.barycenter``).
Images: convolutional entropic barycenters (``ot.bregman.convolutional_barycenter2d``). Gaussians: the
Bures–Wasserstein fixed point (``ot.gaussian.bures_wasserstein_barycenter``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import ot

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import check_tol_rule

from ._checks import check_int, check_points, check_positive, rounding_tolerance
from .discrete import OTConvergenceWarning
from .geodesics import DiscreteMeasure, _check_grid_histograms, _deposit, _quantile_average

__all__ = [
    "barycenter_1d",
    "convolutional_barycenter",
    "entropic_barycenter",
    "exact_barycenter",
    "free_support_barycenter",
    "gaussian_barycenter",
]


def _lambdas(lambdas: Any, K: int) -> np.ndarray:
    if lambdas is None:
        return np.full(K, 1.0 / K)
    raw = np.asarray(lambdas)
    lam = raw.astype(np.float64)
    if lam.shape != (K,) or np.any(lam < 0) or not abs(lam.sum() - 1.0) <= rounding_tolerance(raw):
        raise ValueError(f"'lambdas' must be {K} non-negative weights summing to 1; got {lam.tolist()}")
    return lam


def _histograms(hists: Any) -> np.ndarray:
    raw = np.asarray(hists)
    A = raw.astype(np.float64)
    if A.ndim != 2 or A.shape[0] < 1:
        raise ValueError(f"'hists' must have shape (K, n): K histograms on n bins; got {A.shape}")
    if np.any(A < 0) or not (np.abs(A.sum(axis=1) - 1.0) <= rounding_tolerance(raw)).all():
        raise ValueError("each histogram in 'hists' must be non-negative and sum to 1 (to the rounding level of its "
                         f"dtype, {rounding_tolerance(raw):.2g}); got sums {A.sum(axis=1).tolist()}")
    return A


def barycenter_1d(grid: Any, hists: Any, lambdas: Any = None) -> np.ndarray:
    r"""Exact W2 barycenter of 1-D histograms: :math:`F_{\bar\mu}^{-1} = \sum_k\lambda_k F_k^{-1}` (Ex. 5.8).

    Parameters
    ----------
    grid : increasing nodes (n,)
    hists : (K, n) histograms on ``grid``, each summing to one
    lambdas : (K,) barycentric weights (``None``: equal)

    Returns
    -------
    numpy array (n,): the barycenter written on ``grid`` (each atom split between its two nodes).
    """
    A = _histograms(hists)
    grid = _check_grid_histograms(grid, A)
    measure = _quantile_average(grid, A, _lambdas(lambdas, A.shape[0]))
    return _deposit(grid, measure.points[:, 0], measure.weights)


def free_support_barycenter(
    clouds: Sequence[Any],
    *,
    num_atoms: int,
    lambdas: Any = None,
    max_iter: int = 100,
    tol: float = 1e-7,
    tol_rule: str = "absolute",
    seed: int = 0,
) -> DiscreteMeasure:
    r"""Free-support W2 barycenter of point clouds (Fig. 5.16; Cuturi & Doucet's fixed point in POT).

    Alternates exact OT plans to each cloud with the barycentric update of the ``num_atoms`` uniform-weight
    atoms, started from atoms drawn (with ``seed``) from the pooled clouds.

    Parameters
    ----------
    clouds : K arrays of shape (n_k, d), uniform weights each
    num_atoms : atoms of the barycenter
    lambdas : (K,) weights (``None``: equal)
    max_iter : fixed-point iterations
    tol, tol_rule : stop when the squared displacement of the atoms in one update,
        :math:`\sum_i\|X_i^{t+1} - X_i^t\|^2`, is at most ``tol`` (``"absolute"``, POT's ``stopThr``, in squared
        units of the data) or at most ``tol`` times the initial atoms' spread :math:`\sum_i\|X_i^0 - \bar X^0\|^2`
        (``"relative"``: the same answer whatever the data's units)
    seed : seed of the initial atoms

    Returns
    -------
    DiscreteMeasure with ``num_atoms`` atoms of weight ``1/num_atoms``.

    Warns
    -----
    OTConvergenceWarning
        When ``max_iter`` updates ran and the last displacement is still above the threshold.
    """
    if not isinstance(clouds, (list, tuple)) or len(clouds) == 0:
        raise TypeError("'clouds' must be a non-empty list of (n_k, d) arrays")
    pts = [np.asarray(check_points(c, f"clouds[{k}]"), dtype=np.float64) for k, c in enumerate(clouds)]
    if len({p.shape[1] for p in pts}) != 1:
        raise ValueError(f"all clouds must share one dimension; got {[p.shape[1] for p in pts]}")
    num_atoms = check_int(num_atoms, "num_atoms")
    max_iter = check_int(max_iter, "max_iter")
    tol, rule = check_positive(tol, "tol"), check_tol_rule(tol_rule)
    lam = _lambdas(lambdas, len(pts))
    pooled = np.concatenate(pts)
    rng = np.random.default_rng(seed)
    X_init = pooled[rng.choice(pooled.shape[0], size=num_atoms, replace=num_atoms > pooled.shape[0])]
    threshold = tol if rule == "absolute" else tol * float(((X_init - X_init.mean(0)) ** 2).sum())
    weights = [ot.unif(p.shape[0]) for p in pts]
    X, log = ot.lp.free_support_barycenter(pts, weights, X_init, weights=lam, numItermax=max_iter, stopThr=threshold,
                                           log=True)
    moves = [float(m) for m in log["displacement_square_norms"]]
    if moves and moves[-1] > threshold:
        _warn_unconverged("free_support_barycenter", len(moves), f"squared displacement {moves[-1]:.3g}, "
                          f"threshold {threshold:.3g} ({rule})")
    return DiscreteMeasure(X, ot.unif(num_atoms))


def exact_barycenter(hists: Any, C: Any, lambdas: Any = None) -> np.ndarray:
    r"""Fixed-support W barycenter of histograms by linear programming (POT ``ot.lp.barycenter``).

    Solves :math:`\min_{\bar a}\sum_k\lambda_k \mathrm{OT}_C(\bar a, a_k)` over histograms :math:`\bar a`
    on the common support with cost ``C`` (n, n). Exact but an LP of size :math:`K n^2`: keep n in the hundreds.
    """
    A = _histograms(hists)
    C = _square_cost(C, A.shape[1])
    return np.asarray(ot.lp.barycenter(A.T, C, weights=_lambdas(lambdas, A.shape[0])))


def entropic_barycenter(
    hists: Any, C: Any, reg: float, lambdas: Any = None, *, max_iter: int = 10_000, tol: float = 1e-9,
    tol_rule: str = "absolute"
) -> np.ndarray:
    r"""Entropic fixed-support barycenter by iterative Bregman projections (POT ``ot.bregman.barycenter``).

    Each term is the entropic OT cost of :func:`pgm_ppl.ot.sinkhorn` with ``reg`` :math:`=\varepsilon=1/\lambda`.

    ``tol`` bounds POT's criterion, checked every 10 iterations: the disagreement
    :math:`\sum_i \mathrm{sd}_k\big((P_k^\top 1)_i\big)` between the K plans' marginals on the barycenter's
    side. Those marginals are histograms of unit mass, so the criterion is already relative to their magnitude
    and the two ``tol_rule`` values coincide (both are accepted; the threshold is ``tol`` either way).

    Warns
    -----
    OTConvergenceWarning
        When ``max_iter`` iterations ran without meeting ``tol`` (POT's own warning is silenced).
    """
    A = _histograms(hists)
    C = _square_cost(C, A.shape[1])
    reg = check_positive(reg, "reg")
    max_iter, tol = check_int(max_iter, "max_iter"), check_positive(tol, "tol")
    check_tol_rule(tol_rule)
    bary, log = ot.bregman.barycenter(A.T, C, reg, weights=_lambdas(lambdas, A.shape[0]), method="sinkhorn_log",
                                      numItermax=max_iter, stopThr=tol, warn=False, log=True)
    _check_bregman_log("entropic_barycenter", log, tol, reg)
    return np.asarray(bary)


def _check_bregman_log(name: str, log: dict, tol: float, reg: float) -> None:
    """Warn when POT's Bregman barycentre loop ended with its criterion (logged every 10 iterations) above ``tol``."""
    errors = [float(e) for e in log["err"]]
    if not errors or not errors[-1] < tol:
        last = f"{errors[-1]:.3g}" if errors else "never checked"
        _warn_unconverged(name, int(log["niter"]) + 1, f"marginal disagreement {last}, tol={tol:g}, reg={reg:g}; "
                          "raise 'reg' for a faster fixed point")


def _warn_unconverged(name: str, num_iterations: int, detail: str) -> None:
    warnings.warn(f"{name} did not converge in {num_iterations} iterations ({detail}); raise 'max_iter' or loosen "
                  "'tol'", OTConvergenceWarning, stacklevel=user_stacklevel() - 1)


def _square_cost(C: Any, n: int) -> np.ndarray:
    C = np.asarray(C, dtype=np.float64)
    if C.shape != (n, n):
        raise ValueError(f"'C' must have shape {(n, n)} to match the histograms; got {C.shape}")
    return C


def convolutional_barycenter(
    images: Any, reg: float, lambdas: Any = None, *, max_iter: int = 10_000, tol: float = 1e-9,
    tol_rule: str = "absolute"
) -> np.ndarray:
    r"""Entropic W2 barycenter of 2-D images on the unit square (Solomon et al. 2015; Fig. 5.17).

    The Gibbs kernel :math:`e^{-\|x-y\|^2/\varepsilon}` is applied as a separable convolution, so the cost is
    never formed (POT ``ot.bregman.convolutional_barycenter2d``, log-domain, so small ``reg`` stays stable).
    Images are normalised to unit mass.

    Parameters
    ----------
    images : (K, h, w) non-negative finite images, each with positive mass
    reg : :math:`\varepsilon`, in units of the square's side squared (e.g. 4e-3)
    lambdas : (K,) weights (``None``: equal)
    max_iter, tol, tol_rule : iteration limit and tolerance on POT's criterion, checked every 10 iterations: the
        disagreement :math:`\sum_{\text{pixels}} \mathrm{sd}_k` between the K plans' marginals on the
        barycenter's side. They are images of unit mass, so the criterion is already relative to their
        magnitude and the two ``tol_rule`` values coincide (both accepted; the threshold is ``tol``).

    Returns
    -------
    numpy array (h, w) summing to one.

    Warns
    -----
    OTConvergenceWarning
        When ``max_iter`` iterations ran without meeting ``tol``.
    """
    A = np.asarray(images, dtype=np.float64)
    if A.ndim != 3 or not np.isfinite(A).all() or np.any(A < 0) or np.any(A.sum(axis=(1, 2)) <= 0):
        raise ValueError("'images' must be (K, h, w), finite, non-negative, each with positive mass; got shape "
                         f"{A.shape}")
    A = A / A.sum(axis=(1, 2), keepdims=True)
    reg = check_positive(reg, "reg")
    max_iter, tol = check_int(max_iter, "max_iter"), check_positive(tol, "tol")
    check_tol_rule(tol_rule)
    bary, log = ot.bregman.convolutional_barycenter2d(A, reg, weights=_lambdas(lambdas, A.shape[0]),
                                                      method="sinkhorn_log", numItermax=max_iter, stopThr=tol,
                                                      warn=False, log=True)
    _check_bregman_log("convolutional_barycenter", log, tol, reg)
    return np.asarray(bary)


def gaussian_barycenter(means: Any, covs: Any, lambdas: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""W2 barycenter of Gaussians :math:`\mathcal N(m_k, \Sigma_k)`: mean :math:`\sum_k\lambda_k m_k`, covariance the
    fixed point :math:`\Sigma = \sum_k \lambda_k (\Sigma^{1/2}\Sigma_k\Sigma^{1/2})^{1/2}`
    (POT ``ot.gaussian.bures_wasserstein_barycenter``).

    Parameters
    ----------
    means : (K, d); covs : (K, d, d); lambdas : (K,)

    Returns
    -------
    (mean (d,), covariance (d, d))
    """
    m = np.asarray(means, dtype=np.float64)
    S = np.asarray(covs, dtype=np.float64)
    if m.ndim != 2 or S.shape != (m.shape[0], m.shape[1], m.shape[1]):
        raise ValueError(f"'means' must be (K, d) and 'covs' (K, d, d); got {m.shape} and {S.shape}")
    mb, Sb = ot.gaussian.bures_wasserstein_barycenter(m, S, weights=_lambdas(lambdas, m.shape[0]))
    return np.asarray(mb), np.asarray(Sb)
