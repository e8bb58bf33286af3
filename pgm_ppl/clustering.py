r"""k-means by Lloyd's algorithm and k-means++ seeding (course chapter 2, eqs. (2.2)-(2.4)).

k-means is the hard-assignment precursor of the Gaussian mixture: it alternates the assignment step
(2.3), :math:`r_{nk} = 1` for the nearest centroid, and the centroid step (2.4), the mean of each cluster,
and never increases the distortion :math:`J = \sum_n \sum_k r_{nk} \|x_n - \mu_k\|^2` (2.2). It also
initialises :func:`pgm_ppl.em.gmm.fit_gmm`, the CAVI Bayesian mixture and the DP mixture's CAVI.

It lives in this shared layer (below ``em``, ``cavi`` and ``dp``, above ``core``) because three engines start
from it and engines do not import each other; :mod:`pgm_ppl.em` re-exports it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import ConvergenceWarning, warn_not_converged
from pgm_ppl.core.validation import check_data, check_int

__all__ = ["KMeansResult", "distinct_clusters", "kmeans", "kmeans_plusplus", "squared_distances"]


def distinct_clusters(X: np.ndarray, num_components: int, caller: str) -> int:
    """The number of clusters ``X`` supports: ``num_components``, or fewer (with a warning) when ``X`` has fewer
    distinct rows, as scikit-learn's k-means warns.

    Every k-means and mixture path calls it, so none fits two identical centroids or a "ghost" component
    with no data.

    Warns
    -----
    pgm_ppl.core.ConvergenceWarning
        "Number of distinct clusters (9) found smaller than num_components (10)", naming ``caller``.
    """
    distinct = int(np.unique(X, axis=0).shape[0])
    if distinct >= num_components:
        return num_components
    warnings.warn(f"{caller}: Number of distinct clusters ({distinct}) found smaller than num_components "
                  f"({num_components}): X has duplicate rows, so only {distinct} clusters are fitted; pass "
                  f"num_components <= {distinct} to silence this.", ConvergenceWarning, stacklevel=user_stacklevel())
    return distinct


def _checked(X: ArrayLike, num_components: int) -> np.ndarray:
    X = check_data(X, "X")
    check_int(num_components, "num_components", minimum=1, maximum=X.shape[0])
    return X


@dataclass(frozen=True)
class KMeansResult:
    """Result of :func:`kmeans`.

    Attributes
    ----------
    centroids
        (K, d) cluster means :math:`\\mu_k`.
    labels
        (N,) index of each point's centroid.
    distortion
        Final :math:`J` (course eq. (2.2)).
    distortion_trace
        :math:`J` after each assignment step; never increases.
    converged
        Whether the assignments stopped changing before ``max_iter``.
    num_iterations
        Number of centroid updates.
    """

    centroids: np.ndarray
    labels: np.ndarray
    distortion: float
    distortion_trace: np.ndarray
    converged: bool
    num_iterations: int


def squared_distances(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Matrix (N, K) of :math:`\\|x_n - \\mu_k\\|^2`, computed without forming (N, K, d).

    The expansion :math:`\\|x\\|^2 - 2x^\\top\\mu + \\|\\mu\\|^2` loses every digit of a distance that is small
    against the norms (points 1 apart at 1e8 from the origin come out 0 apart), so both are centred on the
    data's mean first, and the entries still below :math:`\\sqrt\\epsilon` times the norms (the ones the
    expansion cannot resolve) are recomputed exactly from the differences.
    """
    shift = X.mean(0)
    Xc, Cc = X - shift, centroids - shift
    xx, cc = (Xc * Xc).sum(1)[:, None], (Cc * Cc).sum(1)[None, :]
    d2 = np.maximum(xx - 2.0 * Xc @ Cc.T + cc, 0.0)
    eps = np.finfo(np.result_type(X.dtype, centroids.dtype, np.float32)).eps
    rows, cols = np.nonzero(d2 <= np.sqrt(eps) * (xx + cc))
    if rows.size:
        diff = X[rows] - centroids[cols]
        d2[rows, cols] = (diff * diff).sum(1)
    return d2


def kmeans_plusplus(X: ArrayLike, num_components: int, *, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    r"""k-means++ seeding (Arthur & Vassilvitskii, 2007): centroids drawn with probability :math:`\propto D(x)^2`.

    The first centroid is a uniformly drawn point; each next one is drawn with probability proportional to
    the squared distance to the nearest centroid chosen so far.

    Parameters
    ----------
    X
        (N, d) data.
    num_components
        K, at most N.
    seed
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    numpy.ndarray
        (K, d) initial centroids, rows of ``X``.
    """
    X = _checked(X, num_components)
    rng = np.random.default_rng(seed)
    index = [int(rng.integers(X.shape[0]))]
    closest = squared_distances(X, X[index])[:, 0]
    for _ in range(1, num_components):
        total = closest.sum()
        probs = closest / total if total > 0 else np.full(X.shape[0], 1.0 / X.shape[0])
        new = int(rng.choice(X.shape[0], p=probs))
        index.append(new)
        closest = np.minimum(closest, squared_distances(X, X[[new]])[:, 0])
    return X[index].copy()


def kmeans(X: ArrayLike, num_components: int, *, init: str | ArrayLike = "k-means++", max_iter: int = 300,
           num_restarts: int = 1, seed: int | np.random.Generator | None = 0) -> KMeansResult:
    r"""Lloyd's algorithm for k-means (course eqs. (2.3)-(2.4)), best of ``num_restarts`` runs.

    An empty cluster is re-seeded at the point farthest from its centroid, which keeps J non-increasing.

    Parameters
    ----------
    X
        (N, d) data.
    num_components
        K.
    init
        ``"k-means++"``, ``"random"`` (K distinct data points), or a (K, d) array of initial centroids.
    max_iter
        Maximum number of centroid updates.
    num_restarts
        Independent seeded runs; the lowest final J wins (must be 1 with an explicit array ``init``).
    seed
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    KMeansResult

    Raises
    ------
    ValueError
        On an unknown ``init`` name, a wrong centroid shape, or K outside [1, N].

    Warns
    -----
    pgm_ppl.core.ConvergenceWarning
        When the assignments still change after ``max_iter`` centroid updates, or when ``X`` has fewer distinct
    rows than ``num_components`` (then the result has only that many centroids, all non-empty).
    """
    X = _checked(X, num_components)
    rng = np.random.default_rng(seed)
    if isinstance(init, str):
        num_components = distinct_clusters(X, num_components, "kmeans")
    if not isinstance(init, str):
        centroids = np.asarray(init, dtype=np.float64)
        if centroids.shape != (num_components, X.shape[1]):
            raise ValueError(f"init must have shape (num_components, d) = {(num_components, X.shape[1])}; "
                             f"got {centroids.shape}.")
        if num_restarts != 1:
            raise ValueError("num_restarts must be 1 when init is an array of centroids.")
        return _warn_if_unconverged(_lloyd(X, centroids.copy(), max_iter), max_iter)
    if init not in ("k-means++", "random"):
        raise ValueError(f"Unknown init {init!r}; expected 'k-means++', 'random' or a (K, d) array.")
    best = None
    for _ in range(num_restarts):
        if init == "k-means++":
            start = kmeans_plusplus(X, num_components, seed=rng)
        else:
            start = X[rng.choice(X.shape[0], size=num_components, replace=False)].copy()
        result = _lloyd(X, start, max_iter)
        if best is None or result.distortion < best.distortion:
            best = result
    return _warn_if_unconverged(best, max_iter)


def _warn_if_unconverged(result: KMeansResult, max_iter: int) -> KMeansResult:
    if not result.converged:
        warn_not_converged("kmeans", max_iter, hint="the assignments were still changing; raise max_iter.",
                           stacklevel=4)
    return result


def _lloyd(X: np.ndarray, centroids: np.ndarray, max_iter: int) -> KMeansResult:
    """Alternate assignments and centroid means until the assignments stop changing."""
    K = centroids.shape[0]
    d2 = squared_distances(X, centroids)
    labels = d2.argmin(1)
    trace = [float(d2[np.arange(X.shape[0]), labels].sum())]
    converged = False
    iteration = 0
    new_labels = labels
    for iteration in range(1, max_iter + 1):
        counts = np.bincount(labels, minlength=K)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, X)
        nonempty = counts > 0
        centroids[nonempty] = sums[nonempty] / counts[nonempty, None]
        point_d2 = d2[np.arange(X.shape[0]), labels]
        for k in np.flatnonzero(~nonempty):
            far = int(point_d2.argmax())
            centroids[k] = X[far]
            point_d2[far] = 0.0
        d2 = squared_distances(X, centroids)
        new_labels = d2.argmin(1)
        trace.append(float(d2[np.arange(X.shape[0]), new_labels].sum()))
        if np.array_equal(new_labels, labels):
            converged = True
            break
        labels = new_labels
    return KMeansResult(centroids, new_labels, trace[-1], np.asarray(trace), converged,
                        iteration)
