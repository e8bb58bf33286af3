r"""Discrete measures as the course's nonparametric objects (course §4.1-§4.2, Figs. 4.1 and 4.3).

The empirical measure of samples :math:`x_1, \dots, x_N` (course eq. (4.1)) puts mass :math:`1/N` on each:

.. math:: \hat P_N = \frac1N \sum_{n=1}^N \delta_{x_n}.

A finite mixture is a kernel integrated against a discrete *mixing measure* (course eqs. (4.3)-(4.11)):

.. math:: \theta = \sum_{k=1}^K c_k \delta_{\phi_k}, \qquad
          p(x) = \int p(x \mid \phi)\, \theta(d\phi) = \sum_{k=1}^K c_k\, p(x \mid \phi_k),

with atoms :math:`\phi_k`, weights :math:`c_k \ge 0` summing to one, and here the Gaussian location kernel
:math:`p(x \mid \phi) = \mathcal N(x; \phi, \sigma^2 I)`. A Dirichlet process draw
(:func:`pgm_ppl.dp.random_measures.dp_draw`) is such a :math:`\theta` with random weights and atoms.

Both are :class:`pgm_ppl.ot.DiscreteMeasure` (atoms ``points`` (K, d), ``weights`` (K,)), the object the
optimal-transport chapter works with. The Gaussian maximum-likelihood fit that Fig. 4.1 sets against the
empirical measure is :func:`scipy.stats.norm.fit` (mean and the biased, 1/N, standard deviation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from pgm_ppl.core.validation import check_data
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from pgm_ppl.core.measures import DiscreteMeasure

__all__ = ["empirical_measure", "discrete_measure", "mixture_density"]


def _points(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty array of shape (N,) or (N, d), got shape {array.shape}")
    return check_data(array, name)


def empirical_measure(samples: ArrayLike) -> DiscreteMeasure:
    r"""The empirical measure :math:`\hat P_N = \frac1N\sum_n \delta_{x_n}` (course eq. (4.1), Fig. 4.1).

    Parameters
    ----------
    samples
        Data, shape (N,) or (N, d).

    Returns
    -------
    DiscreteMeasure
        ``points`` (N, d) (the samples, repeated values kept as separate atoms) and ``weights`` all 1/N.

    Examples
    --------
    >>> empirical_measure([0.5, 2.0]).weights
    array([0.5, 0.5])
    """
    points = _points(samples, "samples")
    return DiscreteMeasure(points, np.full(points.shape[0], 1.0 / points.shape[0]))


def discrete_measure(atoms: ArrayLike, weights: ArrayLike) -> DiscreteMeasure:
    r"""The mixing measure :math:`\theta = \sum_k c_k \delta_{\phi_k}` (course eq. (4.3), Fig. 4.3).

    Parameters
    ----------
    atoms
        Atoms :math:`\phi_k`, shape (K,) or (K, d).
    weights
        Weights :math:`c_k`, shape (K,): non-negative, summing to one to the rounding level of their dtype
        (:math:`\sqrt\epsilon`: 1.5e-8 for float64, 3.5e-4 for float32); they are then divided by their sum.

    Raises
    ------
    ValueError
        If the shapes disagree or the weights are negative or do not sum to one.
    """
    points = _points(atoms, "atoms")
    raw = np.asarray(weights)
    tol = float(np.sqrt(np.finfo(raw.dtype if np.issubdtype(raw.dtype, np.floating) else np.float64).eps))
    c = raw.astype(np.float64)
    if c.shape != (points.shape[0],):
        raise ValueError(f"weights: expected shape ({points.shape[0]},) to match atoms, got {c.shape}")
    if not np.isfinite(c).all() or np.any(c < 0) or not abs(c.sum() - 1.0) <= tol:
        raise ValueError(f"weights: expected non-negative values summing to 1 (within {tol:.2g}), got sum {c.sum()!r}; "
                         "divide by their sum to normalise them")
    return DiscreteMeasure(points, c / c.sum())


def mixture_density(measure: DiscreteMeasure, x: ArrayLike, scale: float) -> np.ndarray:
    r"""Density of :math:`p(x) = \int \mathcal N(x; \phi, \sigma^2 I)\,\theta(d\phi)
    = \sum_k c_k \mathcal N(x; \phi_k, \sigma^2 I)` (course eqs. (4.3)-(4.11), Fig. 4.3).

    Parameters
    ----------
    measure
        The mixing measure :math:`\theta` (from :func:`discrete_measure`, :func:`empirical_measure` -- giving
        a Gaussian kernel density estimate -- or a DP draw's atoms and weights).
    x
        Evaluation points, shape (M,) or (M, d), with the atoms' dimension d.
    scale
        Kernel standard deviation :math:`\sigma > 0`.

    Returns
    -------
    numpy.ndarray
        :math:`p(x_m)`, shape (M,), computed as a log-sum-exp over atoms.
    """
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale (the kernel standard deviation) must be positive, got {scale!r}")
    points = np.asarray(measure.points, dtype=np.float64)
    xs = _points(x, "x")
    if xs.shape[1] != points.shape[1]:
        raise ValueError(f"x: expected {points.shape[1]} columns like the atoms, got {xs.shape[1]}")
    kernel = multivariate_normal(np.zeros(points.shape[1]), scale**2)
    log_kernel = kernel.logpdf(xs[:, None, :] - points[None, :, :]).reshape(xs.shape[0], points.shape[0])
    with np.errstate(divide="ignore"):
        log_weights = np.log(measure.weights)
    return np.exp(logsumexp(log_kernel + log_weights, axis=1))
