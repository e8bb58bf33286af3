"""Property: k-means on degenerate data returns finite, non-empty, distinct clusters or a named error (issue 18)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pgm_ppl.clustering import kmeans, kmeans_plusplus, squared_distances
from property_strategies import SETTINGS, assert_finite, call_or_named_error, data_matrices, has_nonfinite


@SETTINGS
@given(data=data_matrices(), num_components=st.integers(1, 5), init=st.sampled_from(["k-means++", "random"]))
def test_kmeans_is_valid_or_names_the_argument(data, num_components, init):
    kind, X = data
    result = call_or_named_error(kmeans, ("X", "num_components"), X, num_components, init=init, max_iter=50)
    if result is None:
        assert has_nonfinite(X) or num_components > len(X)
        return
    assert not has_nonfinite(X)
    X64 = np.asarray(X, dtype=np.float64)
    K = result.centroids.shape[0]
    assert 1 <= K <= min(num_components, len(np.unique(X64, axis=0)))
    assert_finite("centroids", result.centroids)
    assert result.labels.shape == (len(X),) and result.labels.min() >= 0 and result.labels.max() < K
    assert len(np.unique(result.labels)) == K, "an empty cluster was returned"
    assert len(np.unique(result.centroids, axis=0)) == K, "two identical centroids were returned"
    assert np.isfinite(result.distortion) and result.distortion >= 0
    # every point sits with one of its nearest centroids (exact distances, not the expanded formula)
    exact = ((X64[:, None, :] - result.centroids[None]) ** 2).sum(-1)
    chosen = exact[np.arange(len(X64)), result.labels]
    assert (chosen <= exact.min(1) * (1 + 1e-9) + 1e-300).all() or not result.converged
    assert result.converged == (result.num_iterations < 50 or result.converged)


@SETTINGS
@given(data=data_matrices(kinds=("plain", "duplicates", "scaled_up", "scaled_down", "float32")),
       num_components=st.integers(1, 4))
def test_kmeans_plusplus_seeds_are_rows(data, num_components):
    kind, X = data
    seeds = call_or_named_error(kmeans_plusplus, ("X", "num_components"), X, num_components)
    if seeds is None:
        return
    X64 = np.asarray(X, dtype=np.float64)
    assert seeds.shape == (num_components, X64.shape[1])
    assert all((X64 == s).all(1).any() for s in seeds)


def test_squared_distances_are_exact_for_large_offsets():
    """Rows 1e8 apart from the origin but 1 apart from each other: no cancellation in the distance."""
    X = np.array([[1e8, 0.0], [1e8 + 1.0, 0.0], [1e8 + 2.0, 0.0]])
    np.testing.assert_allclose(squared_distances(X, X[[0]])[:, 0], [0.0, 1.0, 4.0])


def test_kmeans_separates_close_rows_far_from_the_origin():
    """Regression (issue 18): rows 1e8, 1e8 + 1, 1e8 + 1 with K = 2 gave centroids (1e8 + 1, 1e8), every label 0
    (an empty cluster), because the expanded distance put 1e8 at distance 0 from 1e8 + 1."""
    result = kmeans(np.array([[1e8], [1e8 + 1.0], [1e8 + 1.0]]), 2)
    assert sorted(result.centroids.ravel()) == [1e8, 1e8 + 1.0]
    assert result.labels[1] == result.labels[2] != result.labels[0]
    assert result.distortion == 0.0
