"""k-means against scikit-learn (course eqs. (2.2)-(2.4)), label alignment, and the degeneracy demonstration."""

import numpy as np
import pytest
from sklearn.cluster import KMeans

from pgm_ppl.em import align_labels, collapse_log_likelihood, fit_gmm, kmeans, kmeans_plusplus, match_components


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(3)
    return np.concatenate([rng.normal(size=(100, 2)) + c for c in ([0, 0], [5, 5], [0, 6], [6, 0])])


def test_lloyd_matches_sklearn_from_same_start(X):
    start = kmeans_plusplus(X, 4, seed=0)
    ours = kmeans(X, 4, init=start, max_iter=100)
    ref = KMeans(4, init=start, n_init=1, algorithm="lloyd", tol=0.0, max_iter=100).fit(X)
    perm = match_components(ref.cluster_centers_, ours.centroids).permutation
    np.testing.assert_allclose(ours.centroids[perm], ref.cluster_centers_, rtol=1e-12)
    np.testing.assert_allclose(ours.distortion, ref.inertia_, rtol=1e-10)
    assert align_labels(ref.labels_, ours.labels).cost == 0
    assert ours.converged
    assert np.all(np.diff(ours.distortion_trace) <= 1e-9)      # J never increases (Remark 2.1)


def test_restarts_keep_the_best(X):
    one = kmeans(X, 4, init="random", num_restarts=1, seed=5)
    many = kmeans(X, 4, init="random", num_restarts=8, seed=5)
    assert many.distortion <= one.distortion + 1e-9


def test_kmeans_plusplus_picks_data_points(X):
    c = kmeans_plusplus(X, 4, seed=1)
    assert all(any(np.array_equal(ci, x) for x in X) for ci in c)


def test_match_components_recovers_a_permutation():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(6, 3)) * 5
    perm = rng.permutation(6)
    est = ref[perm] + 1e-3 * rng.normal(size=(6, 3))
    found = match_components(ref, est).permutation
    np.testing.assert_array_equal(perm[found], np.arange(6))


def test_align_labels_counts_disagreements():
    ref = np.array([0, 0, 1, 1, 2, 2])
    lab = np.array([2, 2, 0, 0, 1, 0])
    result = align_labels(ref, lab)
    np.testing.assert_array_equal(result.permutation, [2, 0, 1])
    assert result.cost == 1


def test_likelihood_is_unbounded(X):
    """A component collapsing on a point: l(eps) grows like -(d/2) log eps without bound."""
    params = fit_gmm(X, 4, max_iter=50).params
    curve = collapse_log_likelihood(X, params, component=1, point=7, epsilons=np.logspace(-4, -14, 6))
    assert np.all(np.diff(curve.log_likelihood) > 0)
    assert np.all(curve.log_likelihood >= curve.lower_bound - 1e-9 * np.abs(curve.lower_bound))
    slope = np.diff(curve.log_likelihood[-3:]) / np.diff(np.log(curve.epsilons[-3:]))
    np.testing.assert_allclose(slope, -X.shape[1] / 2, rtol=1e-6)


def test_errors(X):
    with pytest.raises(ValueError, match="Unknown init 'kmeans'"):
        kmeans(X, 3, init="kmeans")
    with pytest.raises(ValueError, match="reference and estimate must have the same shape"):
        match_components(np.zeros((3, 2)), np.zeros((2, 2)))
