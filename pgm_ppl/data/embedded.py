"""Datasets that ship inside installed packages (scikit-learn) and seeded 2-D/3-D generators.

Nothing is downloaded: the real datasets are the ones scikit-learn bundles with its wheel, and the
toy distributions are generated from an explicit ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import datasets as sk

from pgm_ppl.data.images import BINARIZATION_THRESHOLD
from pgm_ppl.data.table import DataError, DataTable


def _binarized_digits() -> Any:
    """scikit-learn's digits, each pixel 1 when its intensity (0-16) is above 8, as
    :func:`pgm_ppl.data.images.load_binarized_digits` binarises them (all 1,797 rows, unsplit)."""
    bunch = sk.load_digits()
    bunch.data = (bunch.data > BINARIZATION_THRESHOLD).astype(np.float64)
    return bunch


_REAL = {
    "iris": (sk.load_iris, "150 iris flowers, 4 measurements, 3 species (Fisher 1936)"),
    "wine": (sk.load_wine, "178 wines, 13 chemical measurements, 3 cultivars"),
    "digits": (sk.load_digits, "1,797 8x8 handwritten digits, 64 pixel intensities 0-16"),
    "binarized_digits": (_binarized_digits, "the same digits with 0/1 pixels (intensity > 8), for binary models "
                                            "(vae, made)"),
    "breast_cancer": (sk.load_breast_cancer, "569 tumours, 30 features, malignant/benign"),
    "diabetes": (sk.load_diabetes, "442 patients, 10 baseline variables, disease progression after a year"),
}


def _moons(n, rng):
    return sk.make_moons(n, noise=0.05, random_state=_seed(rng))


def _circles(n, rng):
    return sk.make_circles(n, noise=0.05, factor=0.5, random_state=_seed(rng))


def _blobs(n, rng):
    return sk.make_blobs(n, centers=3, n_features=2, random_state=_seed(rng))


def _swiss_roll(n, rng):
    return sk.make_swiss_roll(n, noise=0.05, random_state=_seed(rng))


def _s_curve(n, rng):
    return sk.make_s_curve(n, noise=0.05, random_state=_seed(rng))


def _eight_gaussians(n, rng):
    """Eight isotropic Gaussians (sd 0.1) with centres on the circle of radius 2."""
    label = rng.integers(0, 8, size=n)
    angle = label * np.pi / 4
    centres = 2.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    return centres + 0.1 * rng.standard_normal((n, 2)), label


def _checkerboard(n, rng):
    """Uniform on the black squares of a 4x4 checkerboard over [-4, 4]^2 (the FFJORD benchmark)."""
    x1 = rng.uniform(-2, 2, size=n)
    x2 = rng.uniform(0, 1, size=n) - rng.integers(0, 2, size=n) * 2.0 + np.floor(x1) % 2
    return 2.0 * np.column_stack([x1, x2]), None


_GENERATED: dict[str, tuple[Callable, str]] = {
    "moons": (_moons, "two interleaving half circles"),
    "circles": (_circles, "two concentric circles"),
    "blobs": (_blobs, "three isotropic Gaussian blobs"),
    "swiss_roll": (_swiss_roll, "the 3-D swiss roll manifold (target: position along the roll)"),
    "s_curve": (_s_curve, "the 3-D S-curve manifold (target: position along the curve)"),
    "8gaussians": (_eight_gaussians, "eight Gaussians on a circle"),
    "checkerboard": (_checkerboard, "uniform on a checkerboard"),
}

DATASETS: dict[str, str] = {name: text for name, (_, text) in {**_REAL, **_GENERATED}.items()}
"""Every embedded dataset name with a one-line description."""

REAL_DATASETS: tuple[str, ...] = tuple(_REAL)
"""The fixed datasets (the same rows whatever the seed), as opposed to the seeded generators."""


def load_embedded(name: str, *, seed: int = 0, num_samples: int = 1000) -> DataTable:
    """Load an embedded dataset by name; generated ones draw ``num_samples`` points from ``seed``.

    Raises
    ------
    DataError
        For an unknown name (the message lists the valid ones).
    """
    if name in _REAL:
        bunch = _REAL[name][0]()
        columns = tuple(str(c) for c in getattr(bunch, "feature_names", range(bunch.data.shape[1])))
        return DataTable(name, np.asarray(bunch.data, float), columns, np.asarray(bunch.target), "target")
    if name in _GENERATED:
        if num_samples < 1:
            raise DataError(f"num_samples must be at least 1 for dataset {name!r}, got {num_samples}.")
        values, target = _GENERATED[name][0](num_samples, np.random.default_rng(seed))
        columns = tuple(f"x{i}" for i in range(values.shape[1]))
        return DataTable(name, np.asarray(values, float), columns,
                         None if target is None else np.asarray(target), None if target is None else "target")
    raise DataError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}, or give a file path.")


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))
