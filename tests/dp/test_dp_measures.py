"""Empirical and mixing measures (course eqs. (4.1), (4.3)-(4.11); Figs. 4.1, 4.3) against scipy: the
mixture density is the direct sum of scipy.stats densities and integrates to one; the empirical measure's
mean and variance are scipy.stats.norm.fit's maximum-likelihood estimates."""

import re

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import multivariate_normal, norm

from pgm_ppl.dp.measures import discrete_measure, empirical_measure, mixture_density

PHI, C, SIGMA = np.array([-0.7, 1.0, 1.6]), np.array([0.50, 0.12, 0.38]), 0.18  # Fig. 4.3


def test_mixture_density_is_the_sum_of_scipy_normals():
    theta = discrete_measure(PHI, C)
    x = np.linspace(-2, 3, 101)
    direct = sum(c * norm.pdf(x, phi, SIGMA) for phi, c in zip(PHI, C))
    np.testing.assert_allclose(mixture_density(theta, x, SIGMA), direct, rtol=1e-12)


def test_mixture_density_integrates_to_one():
    theta = discrete_measure(PHI, C)
    # every atom lies > 20 kernel widths inside [-5, 6], so the mass outside is below 1e-80
    total, error = quad(lambda t: mixture_density(theta, [t], SIGMA)[0], -5.0, 6.0, points=PHI, limit=200)
    assert error < 1e-8
    assert total == pytest.approx(1.0, abs=1e-8)


def test_two_dimensional_mixture_matches_scipy():
    atoms, weights = np.array([[0.0, 0.0], [2.0, -1.0]]), np.array([0.3, 0.7])
    x = np.random.default_rng(0).normal(size=(20, 2))
    direct = sum(w * multivariate_normal(a, 0.5**2).pdf(x) for a, w in zip(atoms, weights))
    np.testing.assert_allclose(mixture_density(discrete_measure(atoms, weights), x, 0.5), direct, rtol=1e-12)


def test_empirical_measure_moments_are_the_gaussian_ml_fit():
    samples = np.random.default_rng(0).normal(1.0, 0.8, size=60)  # Fig. 4.1
    measure = empirical_measure(samples)
    np.testing.assert_allclose(measure.weights, np.full(60, 1 / 60))
    np.testing.assert_array_equal(measure.points[:, 0], samples)
    mean = measure.weights @ measure.points[:, 0]
    variance = measure.weights @ (measure.points[:, 0] - mean) ** 2
    loc, scale = norm.fit(samples)
    assert mean == pytest.approx(loc, rel=1e-12)
    assert np.sqrt(variance) == pytest.approx(scale, rel=1e-12)


def test_zero_weight_atoms_contribute_nothing():
    with_zero = discrete_measure([0.0, 5.0], [1.0, 0.0])
    np.testing.assert_allclose(mixture_density(with_zero, [0.0, 1.0], 1.0), norm.pdf([0.0, 1.0]), rtol=1e-12)


def test_bad_inputs_name_the_culprit():
    with pytest.raises(ValueError, match=re.escape("weights: expected shape (3,) to match atoms, got (2,)")):
        discrete_measure(PHI, [0.5, 0.5])
    with pytest.raises(ValueError, match="weights: expected non-negative values summing to 1"):
        discrete_measure(PHI, [0.5, 0.2, 0.2])
    with pytest.raises(ValueError, match="weights: expected non-negative values summing to 1"):
        discrete_measure([0.0, 1.0], [1.5, -0.5])
    with pytest.raises(ValueError, match=re.escape("samples: expected a non-empty array")):
        empirical_measure([])
    with pytest.raises(ValueError, match="samples: expected finite values, got nan"):
        empirical_measure([0.0, np.nan])
    with pytest.raises(ValueError, match="scale"):
        mixture_density(discrete_measure(PHI, C), [0.0], 0.0)
    with pytest.raises(ValueError, match=re.escape("x: expected 1 columns like the atoms, got 2")):
        mixture_density(discrete_measure(PHI, C), np.zeros((3, 2)), SIGMA)
