r"""Mode collapse on 2-D Gaussian mixtures: the ring of 8 and the 5x5 grid (Metz et al. 2017; Srivastava et al.
2017, VEEGAN), and the metrics that measure it.

A generator that puts all its mass on a few modes can fool a discriminator locally; the metrics count which
modes its samples reach. A sample is **high quality** when it lies within :math:`3\sigma` of its nearest mode
centre (:math:`\sigma` the modes' standard deviation); a mode is **covered** when it receives at least
``min_fraction`` of the high-quality samples a uniform spread would give it (:math:`n/K`); the **mode KL** is
:math:`\mathrm{KL}(\hat\pi \,\|\, \mathrm{Uniform}_K)` of the high-quality samples' mode histogram
:math:`\hat\pi` (0 for a perfect spread, :math:`\log K` for one mode).

Beware ``np.linspace(0, 2 * np.pi, 8)``: its first and last angles coincide, giving a 7-mode ring.
:func:`ring_centres` uses :math:`2\pi k / K`, :math:`k = 0, \dots, K - 1`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from pgm_ppl.core.seeding import stream
from pgm_ppl.core.validation import check_data, check_int, check_positive, check_probability
from pgm_ppl.information import kl_divergence

__all__ = ["ModeMetrics", "grid_centres", "mixture_samples", "mode_metrics", "ring_centres"]


def ring_centres(num_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """``num_modes`` centres equally spaced on the circle of ``radius``, angles :math:`2\\pi k / K`; shape (K, 2)."""
    K = check_int(num_modes, "num_modes")
    angle = 2 * np.pi * np.arange(K) / K
    return check_positive(radius, "radius") * np.column_stack([np.cos(angle), np.sin(angle)])


def grid_centres(size: int = 5, spacing: float = 2.0) -> np.ndarray:
    """The ``size`` x ``size`` grid of centres, ``spacing`` apart and centred at 0 (5x5: -4..4); shape (size**2, 2)."""
    s = check_int(size, "size")
    axis = check_positive(spacing, "spacing") * (np.arange(s) - (s - 1) / 2)
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)


def mixture_samples(centres: ArrayLike, num_samples: int, *, sd: float = 0.05, seed: int = 0) -> np.ndarray:
    """``num_samples`` draws of the equal-weight isotropic Gaussian mixture on ``centres`` (sd ``sd``)."""
    C = check_data(centres, "centres")
    n = check_int(num_samples, "num_samples")
    rng = np.random.default_rng(stream(seed, "data"))
    return C[rng.integers(0, len(C), size=n)] + check_positive(sd, "sd") * rng.standard_normal((n, C.shape[1]))


class ModeMetrics(NamedTuple):
    """``modes_covered`` (of ``num_modes``), ``high_quality_fraction`` (within 3 sd), ``mode_kl`` (nats) and the
    per-mode ``counts`` of high-quality samples."""

    modes_covered: int
    num_modes: int
    high_quality_fraction: float
    mode_kl: float
    counts: np.ndarray


def mode_metrics(samples: ArrayLike, centres: ArrayLike, *, sd: float, num_sd: float = 3.0,
                 min_fraction: float = 0.1) -> ModeMetrics:
    r"""Modes covered, share of high-quality samples and the KL of the mode histogram (module docstring).

    Parameters
    ----------
    samples
        Generated points, shape (n, 2) (any dimension d works).
    centres
        Mode centres, shape (K, d).
    sd
        The modes' standard deviation :math:`\sigma`.
    num_sd
        A sample is high quality within ``num_sd`` :math:`\sigma` of its nearest centre (3, as VEEGAN).
    min_fraction
        A mode is covered with at least ``min_fraction * n / K`` high-quality samples.

    Returns
    -------
    ModeMetrics
    """
    x, C = check_data(samples, "samples"), check_data(centres, "centres")
    if x.shape[1] != C.shape[1]:
        raise ValueError(f"samples: expected points of dimension {C.shape[1]} (the centres'), got {x.shape[1]}.")
    sd = check_positive(sd, "sd")
    check_probability(min_fraction, "min_fraction")
    d2 = ((x[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    good = np.sqrt(d2[np.arange(len(x)), nearest]) < check_positive(num_sd, "num_sd") * sd
    K = len(C)
    counts = np.bincount(nearest[good], minlength=K)
    covered = int((counts >= max(1, math.ceil(min_fraction * len(x) / K))).sum())
    mode_kl = kl_divergence(counts / counts.sum(), np.full(K, 1.0 / K)) if counts.sum() else math.inf
    return ModeMetrics(covered, K, float(good.mean()), float(mode_kl), counts)
