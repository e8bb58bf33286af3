r"""Sample-quality metrics of a generative model, each reported beside its floor.

A two-sample distance :math:`D(\hat\mu_n, \hat\nu_m)` between model draws and reference data is not zero even
for a perfect model: two independent samples of the *same* law are apart too. So every metric comes with its
**floor**, the same metric between an independent reference sample of the model's size :math:`n` and the
reference sample it is compared with,

.. math::
    \text{floor} = D(\hat\nu'_n, \hat\nu_m), \qquad \hat\nu'_n, \hat\nu_m \text{ independent samples of } \nu,

and a model is distinguishable from the data only by how far its value lies above that floor.

The metrics are the ones of :mod:`pgm_ppl.ot` (each algorithm exists once in the package):

- ``"w2"``: exact :math:`W_2` by the network simplex (:func:`pgm_ppl.ot.w2_samples`), up to 10,000 points;
- ``"sliced_w2"``: sliced :math:`SW_2` (:func:`pgm_ppl.ot.sliced_wasserstein_distance`), for any size;
- ``"mmd"``: the unbiased :math:`\widehat{\mathrm{MMD}}^2_u` with a Gaussian (RBF) kernel
  (:func:`pgm_ppl.ot.mmd_sq`), bandwidth by the median heuristic (Gretton et al. 2012);
- ``"energy"``: the squared energy distance :math:`\mathcal E^2` (:func:`pgm_ppl.ot.energy_distance`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from pgm_ppl.core.seeding import spawn_seeds
from pgm_ppl.core.validation import check_choice, check_data, check_int
from pgm_ppl.ot import energy_distance, mmd_sq, sliced_wasserstein_distance, w2_samples

__all__ = ["MAX_EXACT_W2_POINTS", "METRICS", "Metric", "median_bandwidth", "sample_metrics"]

METRICS = ("w2", "sliced_w2", "mmd", "energy")
MAX_EXACT_W2_POINTS = 10_000
_MEDIAN_POINTS = 1_000  # the median heuristic looks at most at this many pooled points


class Metric(NamedTuple):
    """One sample metric: its ``value`` between model and reference, and its ``floor`` between two reference
    samples of the same sizes (``value`` near ``floor`` means the metric cannot tell the model from the data)."""

    value: float
    floor: float


def sample_metrics(samples: Any, reference: Any, *, metrics: Sequence[str] = METRICS, seed: int = 0,
                   floor_reference: Any = None,
                   reference_sampler: Callable[[int, int], Any] | None = None,
                   num_projections: int = 200) -> dict[str, Metric]:
    r"""Two-sample distances between model draws and reference data, each beside its floor.

    With model draws :math:`x_{1:n}` and reference rows :math:`y_{1:m}`, each metric :math:`D` is reported as
    :math:`D(x, y)` beside the floor :math:`D(y', y)`, where :math:`y'_{1:n}` is a reference sample independent
    of :math:`y` with the model's size :math:`n`. The definitions are in the module docstring; the MMD uses
    one bandwidth for value and floor (the median heuristic on the pooled :math:`x, y, y'`), so the two are
    computed with the same kernel and both are centred when the model's law is the reference's, and the sliced distance uses the same projections for both.

    Parameters
    ----------
    samples
        Model draws, shape (n, d) (a 1-D array is taken as n points in one dimension).
    reference
        Reference data, shape (m, d).
    metrics
        Any of ``"w2"``, ``"sliced_w2"``, ``"mmd"``, ``"energy"``.
    seed
        Seeds the split of the reference pool, ``reference_sampler``, the projections of the sliced distance
        and the points the median heuristic looks at.
    floor_reference
        The second reference sample :math:`y'`, independent of ``reference``, with n rows.
    reference_sampler
        Alternatively, a function ``reference_sampler(num_samples, seed)`` drawing :math:`y'`.
    num_projections
        Random directions of the sliced distance.

    Returns
    -------
    dict of str to Metric
        ``{name: Metric(value, floor)}`` in the order of ``metrics``.

    Notes
    -----
    Without ``floor_reference`` or ``reference_sampler``, the reference pool is split at random (from
    ``seed``) into two disjoint halves of :math:`\lfloor m/2 \rfloor` rows: the samples are compared with the
    first half, and n rows of the second half play :math:`y'`. This needs :math:`m \ge 2n`.

    Costs: exact W2 solves an n x m transport problem (refused above 10,000 points per side); MMD and energy
    distance build n x m distance matrices (memory :math:`O(nm)`); sliced W2 is :math:`O(L (n + m) \log(n + m))`.

    Raises
    ------
    ValueError
        For an unknown metric, samples and reference of different dimensions, fewer than 2 rows, exact W2 above
        10,000 points (use ``"sliced_w2"``), a ``floor_reference`` whose size differs from the samples', or a
        reference pool too small to split.

    References
    ----------
    Gretton, A., Borgwardt, K. M., Rasch, M. J., Schölkopf, B. & Smola, A. (2012). A kernel two-sample test.
    *Journal of Machine Learning Research* 13, 723-773 (the unbiased :math:`\mathrm{MMD}^2_u`, eq. (3), and the
    median heuristic, section 8).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> result = sample_metrics(rng.normal(size=(200, 2)) + 1.0, rng.normal(size=(400, 2)), metrics=("energy",))
    >>> result["energy"].value > 10 * abs(result["energy"].floor)
    True
    """
    x, y = _as_points(samples, "samples"), _as_points(reference, "reference")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"samples and reference must have the same dimension; got {x.shape[1]} and {y.shape[1]}.")
    for name in metrics:
        check_choice(name, "metrics", METRICS)
    num_projections = check_int(num_projections, "num_projections")
    split_seed, sampler_seed, projection_seed, median_seed = spawn_seeds(check_int(seed, "seed", minimum=0), 4)
    if "w2" in metrics and len(x) > MAX_EXACT_W2_POINTS:
        _refuse_exact_w2(len(x), len(y))
    y, y_prime = _floor_sample(x, y, floor_reference, reference_sampler, split_seed, sampler_seed)
    if "w2" in metrics and len(y) > MAX_EXACT_W2_POINTS:
        _refuse_exact_w2(len(x), len(y))
    bandwidth = median_bandwidth(x, y, y_prime, seed=median_seed) if "mmd" in metrics else None
    distance = {
        "w2": w2_samples,
        "sliced_w2": lambda u, v: sliced_wasserstein_distance(u, v, num_projections=num_projections,
                                                              seed=projection_seed),
        "mmd": lambda u, v: mmd_sq(u, v, bandwidth=bandwidth),
        "energy": energy_distance,
    }
    return {name: Metric(float(distance[name](x, y)), float(distance[name](y_prime, y))) for name in metrics}


def median_bandwidth(*samples: Any, seed: int = 0) -> float:
    r"""The median heuristic of Gretton et al. (2012, section 8): the median distance between pooled points.

    .. math::
        h = \operatorname{median}\{\|z_i - z_j\| : i < j\}, \qquad z = \text{the rows of all the samples, pooled},

    the width of the kernel :math:`k(u, v) = \exp(-\|u - v\|^2 / (2 h^2))` of :func:`pgm_ppl.ot.mmd_sq`. Above
    1,000 pooled points the median is taken over 1,000 of them drawn without replacement (from ``seed``).
    Being a symmetric function of the pooled points, it keeps :math:`\widehat{\mathrm{MMD}}^2_u` centred
    under the null hypothesis that both samples come from one law.
    """
    if not samples:
        raise ValueError("median_bandwidth: expected at least one sample (n, d).")
    z = np.concatenate([_as_points(value, f"samples[{i}]") for i, value in enumerate(samples)])
    if len(z) > _MEDIAN_POINTS:
        z = z[np.random.default_rng(seed).choice(len(z), _MEDIAN_POINTS, replace=False)]
    i, j = np.triu_indices(len(z), k=1)
    h = float(np.median(np.linalg.norm(z[i] - z[j], axis=1)))
    if h <= 0:
        raise ValueError("median_bandwidth: more than half of the pairs of points coincide, so the median "
                         "distance is 0; pass a bandwidth to pgm_ppl.ot.mmd_sq yourself.")
    return h


def _refuse_exact_w2(n: int, m: int) -> None:
    raise ValueError(f"metrics: exact 'w2' takes at most {MAX_EXACT_W2_POINTS:,} points per side (an n x m "
                     f"transport problem), got {n:,} samples and {m:,} reference rows; use 'sliced_w2' or "
                     "subsample.")


def _as_points(value: Any, name: str) -> np.ndarray:
    points = check_data(value, name, ndim=(1, 2), min_rows=2)
    return points[:, None] if points.ndim == 1 else points


def _floor_sample(x: np.ndarray, y: np.ndarray, floor_reference: Any, reference_sampler: Callable | None,
                  split_seed: int, sampler_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference rows to compare with and the independent reference sample y' of the model's size."""
    n = len(x)
    if floor_reference is not None and reference_sampler is not None:
        raise ValueError("give floor_reference or reference_sampler, not both.")
    if reference_sampler is not None:
        floor_reference = reference_sampler(n, sampler_seed)
    if floor_reference is not None:
        name = "floor_reference" if reference_sampler is None else "reference_sampler(n, seed)"
        y_prime = _as_points(floor_reference, name)
        if y_prime.shape != x.shape:
            raise ValueError(f"{name}: expected an independent reference sample of the samples' shape {x.shape}, "
                             f"got shape {y_prime.shape}.")
        return y, y_prime
    half = len(y) // 2
    if half < n:
        raise ValueError(f"reference: to split the pool into two halves of at least {n} rows (the samples' size) "
                         f"it needs {2 * n} rows, got {len(y)}; pass floor_reference or reference_sampler.")
    order = np.random.default_rng(split_seed).permutation(len(y))
    return y[order[:half]], y[order[half:half + n]]
