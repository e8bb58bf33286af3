"""Property: the DP mixture's CAVI and collapsed Gibbs sampler on degenerate data (issue 18)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pgm_ppl.dp import cavi, gibbs
from property_strategies import (SETTINGS, assert_converged_flag, assert_finite, assert_positive_definite,
                                 assert_probability_vector, call_or_named_error, data_matrices, has_nonfinite)


@SETTINGS
@given(data=data_matrices(), num_components=st.integers(1, 5))
def test_dp_cavi_is_valid_or_names_the_argument(data, num_components):
    kind, X = data
    result = call_or_named_error(cavi.run, ("X", "num_components"), X, num_components, max_iter=30)
    if result is None:
        return
    assert not has_nonfinite(X)
    assert_probability_vector("weights", result.weights)
    assert_probability_vector("responsibilities", result.responsibilities)
    assert result.labels.shape == (len(X),)
    assert_finite("means", result.state.means)
    assert_positive_definite("covariances", result.state.covariances)
    assert_finite("lower bounds", result.lower_bounds)
    assert_converged_flag(result)


@SETTINGS
@given(data=data_matrices(max_rows=6), alpha=st.sampled_from([0.1, 1.0, 10.0]),
       noise_scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_dp_gibbs_is_valid_or_names_the_argument(data, alpha, noise_scale):
    kind, X = data
    result = call_or_named_error(gibbs.run, ("X", "alpha", "noise_scale"), X, alpha=alpha, noise_scale=noise_scale,
                                 num_samples=5, num_warmup=2)
    if result is None:
        assert has_nonfinite(X)
        return
    N = len(X)
    assert result.labels.shape == (5, N)
    for labels, k in zip(result.labels, result.num_clusters):
        assert set(np.unique(labels)) == set(range(k)), "labels are not compact 0..K-1"
    C = result.co_clustering
    assert_finite("co_clustering", C)
    assert ((C >= 0) & (C <= 1)).all() and np.allclose(np.diag(C), 1.0) and np.allclose(C, C.T)


def test_discrete_measure_accepts_float32_weights():
    """Issue 18 item 7: the weight-sum check was a fixed 1e-8, so float32 weights normalised in float32 (sum 1 + 3e-8
    in float64 here) were refused; now the tolerance is the dtype's rounding level and the weights are renormalised."""
    import pytest

    from pgm_ppl.dp import discrete_measure

    measure = discrete_measure(np.arange(3.0), np.full(3, 1 / 3, np.float32))
    assert measure.weights.sum() == 1.0
    with pytest.raises(ValueError, match=r"weights: expected non-negative values summing to 1 \(within 1.5e-08\)"):
        discrete_measure(np.arange(2.0), np.array([0.5, 0.5 + 1e-7]))
