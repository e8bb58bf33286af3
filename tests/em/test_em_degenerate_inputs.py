"""Issue 18, kinds 1 and 2 on the EM side: fewer distinct points than components, constant columns, one sample."""

import warnings

import numpy as np
import pytest
from sklearn.decomposition import FactorAnalysis

from pgm_ppl.clustering import kmeans
from pgm_ppl.core import ConvergenceWarning
from pgm_ppl.em import fit_factor_analysis, fit_gmm

DISTINCT = "Number of distinct clusters \\(9\\) found smaller than num_components \\(10\\)"


@pytest.fixture(scope="module")
def duplicated():
    """17 points in 2-D of which only 9 are distinct (the issue's input)."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(9, 2))
    return np.concatenate([points, points[rng.integers(0, 9, 8)]])


def test_kmeans_warns_and_keeps_only_distinct_clusters(duplicated):
    with pytest.warns(ConvergenceWarning, match=DISTINCT):
        result = kmeans(duplicated, 10)
    assert result.centroids.shape == (9, 2)
    assert np.unique(result.labels).size == 9                      # every centroid non-empty
    assert np.unique(result.centroids, axis=0).shape[0] == 9       # no two identical centroids
    assert result.distortion == pytest.approx(0.0, abs=1e-24)


def test_fit_gmm_kmeans_init_has_no_ghost_components(duplicated):
    with pytest.warns(ConvergenceWarning, match=DISTINCT):
        result = fit_gmm(duplicated, 10, init="kmeans")
    weights = result.params.weights
    assert weights.shape == (9,)
    assert weights.min() >= 1 / 17 - 1e-12                         # each component holds at least one point


def test_enough_distinct_points_do_not_warn(duplicated):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert kmeans(duplicated, 9).centroids.shape == (9, 2)


@pytest.fixture(scope="module")
def one_factor():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 1))
    return z @ np.array([[1.0, 0.8, -0.5]]) + rng.normal(size=(200, 3)) * np.array([0.5, 0.6, 0.7])


def test_factor_analysis_with_a_constant_column_matches_scikit_learn(one_factor):
    X = np.column_stack([one_factor, np.full(200, 7.0)])
    result = fit_factor_analysis(X, 1)
    without = fit_factor_analysis(one_factor, 1)
    assert result.converged and np.isfinite(result.log_likelihood)
    psi = result.params.noise_variance
    floor = 1e-12 * np.var(X, axis=0).mean()                        # min_noise_variance times the mean variance
    assert psi[3] == pytest.approx(floor, rel=1e-12)                # the constant column sits at the floor
    np.testing.assert_allclose(psi[:3], without.params.noise_variance, rtol=1e-3)
    np.testing.assert_allclose(np.abs(result.params.loadings[:3, 0]), np.abs(without.params.loadings[:, 0]),
                               rtol=1e-3)
    assert result.params.loadings[3, 0] == 0.0
    # scikit-learn (floor 1e-12 at unit scale) run to convergence: at its default tol=1e-2 it stops 3% away after 9
    # iterations; at 1e-10 (155) it agrees with ours, at our default tolerance, to 6e-4 (the `without` fit's 1e-3)
    reference = FactorAnalysis(1, tol=1e-10, max_iter=10000, svd_method="lapack").fit(X)
    assert reference.noise_variance_[3] == pytest.approx(1e-12)
    np.testing.assert_allclose(psi[:3], reference.noise_variance_[:3], rtol=1e-3)


def test_factor_analysis_on_one_sample_is_a_clear_error(one_factor):
    with pytest.raises(ValueError, match=r"X: expected at least 2 row\(s\)"):
        fit_factor_analysis(one_factor[:1], 1)
    with pytest.raises(ValueError, match="only constant columns"):
        fit_factor_analysis(np.ones((5, 3)), 1)
