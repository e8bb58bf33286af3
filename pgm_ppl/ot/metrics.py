r"""Sample metrics (W2, energy distance, MMD) and exact minibatch OT couplings for flow matching.

These are what the rest of pgm_ppl uses: the diagnostics report two-sample distances between model draws
and data, and OT flow matching pairs each minibatch of noise with data by an exact OT coupling.
All functions take numpy arrays or torch tensors (the distances are differentiable on torch).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import ot
import torch

from pgm_ppl.core.convergence import warn_not_converged

from ._checks import backend, check_points, check_positive
from .closed_form import wasserstein_distance_empirical

__all__ = ["MinibatchCoupling", "energy_distance", "minibatch_ot_coupling", "mmd_sq", "w2_samples"]


class MinibatchCoupling(NamedTuple):
    """Exact OT pairing of two equal-size minibatches: ``x0[source_index[k]]`` goes to ``x1[target_index[k]]``.

    ``cost`` is the mean squared distance of the pairs, the exact :math:`W_2^2` of the two empirical measures.
    """

    source_index: Any
    target_index: Any
    cost: float


def _pair(x: Any, y: Any) -> tuple[Any, Any]:
    x, y = check_points(x, "x"), check_points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"'x' and 'y' must have the same dimension; got {x.shape[1]} and {y.shape[1]}")
    backend(x, y)
    return x, y


def w2_samples(x: Any, y: Any) -> Any:
    r"""Exact :math:`W_2` between two samples with uniform weights (network simplex on :math:`\|x_i-y_j\|^2`).

    A consistent but biased estimator of :math:`W_2` between the underlying laws (bias of order
    :math:`n^{-1/d}`): compare models on equal sample sizes. See :func:`pgm_ppl.ot.wasserstein_distance_empirical`.
    """
    x, y = _pair(x, y)
    return wasserstein_distance_empirical(x, y, p=2.0)


def energy_distance(x: Any, y: Any) -> Any:
    r"""Squared energy distance (V-statistic) between samples (Székely & Rizzo),

    .. math::
        \mathcal E^2 = 2\,\overline{\|x_i - y_j\|} - \overline{\|x_i - x_{i'}\|} - \overline{\|y_j - y_{j'}\|},

    where bars are means over all pairs. It is the MMD with the distance kernel, is :math:`\ge 0`, and its
    square root equals ``scipy.stats.energy_distance`` in 1-D.
    """
    x, y = _pair(x, y)
    nx = backend(x, y)

    def mean_dist(u: Any, v: Any) -> Any:
        return nx.mean(nx.sqrt(nx.maximum(ot.dist(u, v, metric="sqeuclidean"), 0.0) + 1e-300))

    return 2.0 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)


def mmd_sq(x: Any, y: Any, *, bandwidth: float) -> Any:
    r"""Unbiased squared MMD with the Gaussian kernel :math:`k(u,v) = \exp(-\|u-v\|^2/(2h^2))` (Gretton et al. 2012).

    .. math::
        \widehat{\mathrm{MMD}}^2 = \frac{1}{n(n-1)}\sum_{i\ne i'} k(x_i,x_{i'})
        + \frac{1}{m(m-1)}\sum_{j\ne j'} k(y_j,y_{j'}) - \frac{2}{nm}\sum_{ij} k(x_i,y_j),

    an unbiased estimate of the population MMD², so it can be slightly negative when the laws agree.

    Parameters
    ----------
    x, y : samples (n, d), (m, d) with n, m >= 2
    bandwidth : kernel width :math:`h > 0`
    """
    x, y = _pair(x, y)
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError(f"mmd_sq needs at least 2 samples on each side; got {x.shape[0]} and {y.shape[0]}")
    h2 = 2.0 * check_positive(bandwidth, "bandwidth") ** 2
    nx = backend(x, y)
    n, m = x.shape[0], y.shape[0]
    kxx = nx.sum(nx.exp(-ot.dist(x, x) / h2)) - n  # drop the diagonal k(x_i, x_i) = 1
    kyy = nx.sum(nx.exp(-ot.dist(y, y) / h2)) - m
    kxy = nx.sum(nx.exp(-ot.dist(x, y) / h2))
    return kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2.0 * kxy / (n * m)


def minibatch_ot_coupling(x0: Any, x1: Any) -> MinibatchCoupling:
    r"""Exact OT coupling of two minibatches of equal size n with uniform weights (OT flow matching).

    With :math:`a = b = 1/n`, the vertices of the polytope (5.5) are permutation matrices / n
    (Birkhoff–von Neumann), so the network simplex (``ot.emd`` on :math:`C_{ij} = \|x_{0,i} - x_{1,j}\|^2`)
    returns an optimal assignment; it is read off row by row, with no sampling from the plan. (The
    Jonker–Volgenant ``scipy.optimize.linear_sum_assignment`` is faster on centred clouds but several times
    slower when the clouds are apart, as noise and data often are.) Pairs are sorted by source index.

    Parameters
    ----------
    x0, x1 : minibatches (n, d) (numpy or torch; torch indices come back as tensors on ``x0``'s device)

    Returns
    -------
    MinibatchCoupling

    Warns
    -----
    ConvergenceWarning
        If the network simplex stops before optimality (pivot limit ``max(100_000, n^2/10)``).
    """
    x0, x1 = _pair(x0, x1)
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(f"minibatches must have equal sizes; got {x0.shape[0]} and {x1.shape[0]}")
    nx = backend(x0, x1)
    n = x0.shape[0]
    C = nx.to_numpy(ot.dist(x0, x1))
    max_iter = max(100_000, n * n // 10)  # the pivot limit of wasserstein_distance_empirical
    with warnings.catch_warnings():  # POT's own unnamed UserWarning is replaced by the ConvergenceWarning below
        warnings.filterwarnings("ignore", message="numItermax reached", category=UserWarning)
        plan, log = ot.emd(np.full(n, 1.0 / n), np.full(n, 1.0 / n), C, numItermax=max_iter, log=True)
    if int(log["result_code"]) != 1:  # stopped early or failed: the plan is a coupling but maybe not optimal
        warn_not_converged("minibatch_ot_coupling (network simplex)", max_iter,
                           hint=f"POT's ot.emd stopped with {log['warning']!r}; the pairs may not be an optimal "
                                "assignment. Use smaller minibatches.")
    rows, cols = np.arange(n), np.argmax(plan, axis=1)
    cost = float(C[rows, cols].mean())
    if isinstance(x0, np.ndarray):
        return MinibatchCoupling(rows, cols, cost)
    return MinibatchCoupling(torch.as_tensor(rows, device=x0.device), torch.as_tensor(cols, device=x0.device), cost)
