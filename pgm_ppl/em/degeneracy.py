r"""The unbounded Gaussian-mixture likelihood (course chapter 2, "Does EM fix ill-posed maximum likelihood?").

Put one component on a data point, :math:`\mu_k = x_n`, with covariance :math:`\epsilon I`. Its density at
that point is :math:`\mathcal N(x_n \mid x_n, \epsilon I) = (2\pi\epsilon)^{-d/2} \to \infty` as
:math:`\epsilon \to 0`, while every other point keeps a positive density from the remaining components, so

.. math::
    \ell(\theta_\epsilon) \ge \log \pi_k - \tfrac d2 \log(2\pi\epsilon) + \sum_{m \ne n} \log\Big(\sum_{j \ne k} \pi_j \mathcal N(x_m \mid \mu_j, \Sigma_j)\Big) \to \infty,

and maximum likelihood is ill-posed. EM does not fix this: its monotone ascent can follow such a path.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from pgm_ppl.core.validation import check_data
from pgm_ppl.em.gmm import GMMParams, gmm_log_likelihood


class CollapseCurve(NamedTuple):
    """Log-likelihood along a collapse path: ``log_likelihood[i]`` at variance ``epsilons[i]``.

    ``lower_bound`` is the right-hand side of the bound in the module docstring, which grows like
    :math:`-\\tfrac d2 \\log \\epsilon`.
    """

    epsilons: np.ndarray
    log_likelihood: np.ndarray
    lower_bound: np.ndarray


def collapse_log_likelihood(X: ArrayLike, params: GMMParams, *, component: int = 0, point: int = 0,
                            epsilons: ArrayLike = np.logspace(0, -12, 13)) -> CollapseCurve:
    r"""Move component ``component`` onto data point ``point`` with covariance :math:`\epsilon I` and evaluate :math:`\ell`.

    Parameters
    ----------
    X
        (N, d) data.
    params
        A full-covariance mixture (for example a fitted one) with at least two components.
    component, point
        Which component collapses, onto which row of ``X``.
    epsilons
        Positive variances, typically decreasing to 0.

    Returns
    -------
    CollapseCurve

    Raises
    ------
    ValueError
        If ``params`` is not full-covariance, has one component, an index is out of range, or an
        epsilon is not positive.
    """
    X = check_data(X, "X")
    eps = np.asarray(epsilons, dtype=np.float64)
    if params.covariance_type != "full" or params.num_components < 2:
        raise ValueError("params must be a full-covariance mixture with at least two components.")
    if not 0 <= component < params.num_components or not 0 <= point < X.shape[0]:
        raise ValueError(f"component must be in [0, {params.num_components}) and point in [0, {X.shape[0]}); "
                         f"got {component} and {point}.")
    if eps.ndim != 1 or np.any(eps <= 0):
        raise ValueError("epsilons must be a 1-D array of positive variances.")
    d = X.shape[1]
    means = params.means.copy()
    means[component] = X[point]
    others = np.delete(np.arange(params.num_components), component)
    rest = GMMParams(params.weights[others] / params.weights[others].sum(), params.means[others],
                     params.covariances[others])
    keep = np.delete(np.arange(X.shape[0]), point)
    base = (gmm_log_likelihood(X[keep], rest) + (X.shape[0] - 1) * np.log1p(-params.weights[component]))
    lls, bounds = [], []
    for e in eps:
        cov = params.covariances.copy()
        cov[component] = e * np.eye(d)
        lls.append(gmm_log_likelihood(X, GMMParams(params.weights, means, cov)))
        bounds.append(np.log(params.weights[component]) - 0.5 * d * np.log(2 * np.pi * e) + base)
    return CollapseCurve(eps, np.asarray(lls), np.asarray(bounds))
