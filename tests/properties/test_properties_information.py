"""Property: discrete divergences and the Gaussian KL on degenerate inputs (issue 18)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pgm_ppl.information import (chi_squared_divergence, cross_entropy, entropy, kl_divergence, kl_mvn, kl_normal,
                                 l1_distance)
from property_strategies import SETTINGS, call_or_named_error


@st.composite
def pmfs(draw, n: int):
    """Probability vectors with exact zeros, normalised in float64 or float32, sometimes with NaN."""
    counts = np.array(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), dtype=np.float64)
    if counts.sum() == 0:
        counts[0] = 1.0
    p = (counts / counts.sum()).astype(draw(st.sampled_from([np.float64, np.float32])))
    if draw(st.integers(0, 9)) == 0:
        p[draw(st.integers(0, n - 1))] = np.nan
    return p


@st.composite
def pmf_pairs(draw):
    n = draw(st.integers(1, 5))
    return draw(pmfs(n)), draw(pmfs(n))


@SETTINGS
@given(pair=pmf_pairs())
@example(pair=(np.array([1 / 3, 1 / 3, 1 / 3], np.float32), np.array([1 / 3, 1 / 3, 1 / 3])))
def test_discrete_divergences_are_valid_or_name_the_argument(pair):
    p, q = pair
    H = call_or_named_error(entropy, ("p",), p)
    if H is None:
        assert np.isnan(p).any()
        return
    assert 0 <= H <= np.log(len(p)) + 1e-12
    kl = call_or_named_error(kl_divergence, ("p", "q"), p, q)
    if kl is None:
        assert np.isnan(q).any()
        return
    assert kl >= 0 and not np.isnan(kl)
    assert (kl == np.inf) == bool(((np.asarray(q) == 0) & (np.asarray(p) > 0)).any())
    ce = cross_entropy(p, q)
    assert ce >= H - 1e-12 and not np.isnan(ce)
    if np.isfinite(kl):
        np.testing.assert_allclose(ce, H + kl, rtol=1e-9, atol=1e-12)
    assert 0 <= l1_distance(p, q) <= 2 + 1e-12
    assert chi_squared_divergence(p, q) >= 0
    assert kl_divergence(p, p) == 0.0


@st.composite
def gaussians(draw):
    d = draw(st.integers(1, 3))
    scale = draw(st.sampled_from([1e-8, 1.0, 1e8]))
    A = np.array(draw(st.lists(st.lists(st.integers(-2, 2), min_size=d, max_size=d), min_size=d, max_size=d)),
                 dtype=np.float64)
    cov = scale ** 2 * (A @ A.T + draw(st.sampled_from([0.0, 1e-12, 1.0])) * np.eye(d))
    mean = scale * np.array(draw(st.lists(st.integers(-3, 3), min_size=d, max_size=d)), dtype=np.float64)
    return mean, cov


@SETTINGS
@given(first=gaussians(), second=gaussians())
def test_gaussian_kl_is_non_negative_or_infinite(first, second):
    (m0, S0), (m1, S1) = first, second
    kl = call_or_named_error(kl_mvn, ("mean_p", "cov_q", "cov_p"), m0, S0, m1, S1)
    if kl is None:
        assert len(m0) != len(m1)
        return
    assert kl >= 0 and not np.isnan(kl), kl
    assert kl_mvn(m0, S0, m0, S0) == 0.0


@pytest.mark.parametrize("sigma", [1e-200, 1e-8, 1.0, 1e150])
def test_kl_normal_of_equal_gaussians_is_zero_at_every_scale(sigma):
    assert kl_normal(0.0, sigma, 0.0, sigma) == 0.0
    assert kl_normal(0.0, sigma, sigma, sigma) == pytest.approx(0.5)


def test_float32_probability_vectors_are_accepted_and_renormalised():
    """Regression (issue 18): the fixed 1e-9 sum check refused the float32 uniform vector (sum 1 + 3e-8 in float64)
    with 'p: expected rows that are probability vectors (non-negative, summing to 1 within ...)'."""
    p = np.full(3, 1 / 3, np.float32)
    assert entropy(p) == pytest.approx(np.log(3), rel=1e-15)
    assert kl_divergence(p, np.full(3, 1 / 3)) == 0.0
    with pytest.raises(ValueError, match=r"p: expected rows that are probability vectors \(non-negative, summing to 1 within 1.5e-08"):
        entropy(np.array([0.5, 0.5 + 1e-6]))


def test_kl_normal_at_tiny_scales():
    """Regression (issue 18): sigma = 1e-200 squared to 0 and raised ZeroDivisionError."""
    assert kl_normal(0.0, 1e-200, 0.0, 2e-200) == pytest.approx(np.log(2) + 0.125 - 0.5, rel=1e-15)
