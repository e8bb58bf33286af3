"""Property: HMM forward-backward / Baum-Welch and the Kalman filter / smoother / EM on degenerate inputs
(issue 18)."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from pgm_ppl.graphical import (CategoricalHMM, GaussianHMM, LinearGaussianSSM, baum_welch, forward_backward,
                               kalman_em, kalman_filter, rts_smoother)
from property_strategies import (SETTINGS, assert_converged_flag, assert_finite, assert_positive_definite,
                                 assert_probability_vector, call_or_named_error, data_matrices, has_nonfinite)


@st.composite
def probability_rows(draw, rows: int, cols: int):
    """Rows with exact zeros (left-to-right chains, impossible symbols), float64 or float32."""
    counts = np.array(draw(st.lists(st.lists(st.integers(0, 3), min_size=cols, max_size=cols), min_size=rows,
                                    max_size=rows)), dtype=np.float64)
    counts[counts.sum(1) == 0, 0] = 1.0
    p = counts / counts.sum(1, keepdims=True)
    return p.astype(draw(st.sampled_from([np.float64, np.float32])))


@st.composite
def categorical_hmms(draw):
    K, M = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    model = CategoricalHMM(draw(probability_rows(1, K))[0], draw(probability_rows(K, K)),
                           draw(probability_rows(K, M)))
    N, T = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    x = np.array(draw(st.lists(st.integers(0, M - 1), min_size=N * T, max_size=N * T))).reshape(N, T)
    return model, x


_FLOAT32_THIRDS = (CategoricalHMM(np.array([1 / 3, 2 / 3], np.float32), np.array([[1.0, 0.0], [1.0, 0.0]]),
                                   np.array([[1.0], [1.0]])), np.array([[0]]))


@SETTINGS
@given(problem=categorical_hmms())
@example(problem=_FLOAT32_THIRDS)
def test_forward_backward_posteriors_or_names_the_impossible_step(problem):
    model, x = problem
    fb = call_or_named_error(model.forward_backward, ("x: sequence",), x)
    if fb is None:
        assert (model.log_likelihood(x) == -np.inf).any()
        return
    assert_probability_vector("posterior", fb.posterior)
    assert (fb.log_likelihood <= 1e-12).all(), f"discrete log-likelihood above zero: {fb.log_likelihood}"
    assert_finite("log_likelihood", fb.log_likelihood)
    assert (fb.expected_transitions >= 0).all()
    np.testing.assert_allclose(fb.expected_transitions.sum(), x.shape[0] * (x.shape[1] - 1), rtol=1e-9)
    np.testing.assert_allclose(fb.log_likelihood, model.log_likelihood(x), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(problem=categorical_hmms())
@example(problem=_FLOAT32_THIRDS)
def test_baum_welch_categorical_is_valid_or_names_the_impossible_step(problem):
    model, x = problem
    result = call_or_named_error(baum_welch, ("x: sequence",), model, x, max_iter=10)
    if result is None:
        return
    fitted = result.model
    assert_probability_vector("initial", fitted.initial)
    assert_probability_vector("transition", fitted.transition)
    assert_probability_vector("emission", fitted.emission)
    trace = result.log_likelihood
    assert_finite("log-likelihood trace", trace)
    assert (trace <= 1e-9).all(), trace
    assert (np.diff(trace) >= -1e-9 * np.abs(trace[:-1]).clip(1.0)).all(), f"EM decreased: {trace}"
    assert_converged_flag(result)


@SETTINGS
@given(data=data_matrices(max_cols=2), num_states=st.integers(1, 3))
@example(data=("scaled_up", 1e8 + np.array([[0.0], [1.0], [0.0], [1.0]])), num_states=1)
def test_baum_welch_gaussian_is_valid_or_names_the_argument(data, num_states):
    kind, X = data
    d = X.shape[1]
    rng = np.random.default_rng(0)
    finite = np.where(np.isfinite(X), X, 0.0).astype(np.float64)
    spread = finite.std(0) + np.abs(finite).mean(0) + 1.0
    model = GaussianHMM(np.full(num_states, 1.0 / num_states), np.full((num_states, num_states), 1.0 / num_states),
                        finite.mean(0) + spread * rng.standard_normal((num_states, d)),
                        np.broadcast_to(spread ** 2, (num_states, d)).copy())
    result = call_or_named_error(baum_welch, ("x",), model, X[None], max_iter=15)
    if result is None:
        assert has_nonfinite(X)
        return
    fitted = result.model
    assert_probability_vector("initial", fitted.initial)
    assert_probability_vector("transition", fitted.transition)
    assert_finite("means", fitted.means)
    assert (fitted.variances > 0).all() and np.isfinite(fitted.variances).all()
    trace = result.log_likelihood
    assert_finite("log-likelihood trace", trace)
    assert (np.diff(trace) >= -1e-9 * np.abs(trace[:-1]).clip(1.0)).all(), f"EM decreased: {trace}"
    assert_converged_flag(result)


def _ssm(d: int, scale: float) -> LinearGaussianSSM:
    m = 1
    return LinearGaussianSSM(np.eye(m) * 0.9, np.ones((d, m)) * scale, np.eye(m) * scale ** 2,
                             np.eye(d) * scale ** 2, np.zeros(m), np.eye(m) * scale ** 2)


@SETTINGS
@given(data=data_matrices(max_cols=2), scale=st.sampled_from([1e-4, 1.0, 1e4]))
def test_kalman_filter_and_smoother_are_valid_or_name_x(data, scale):
    kind, X = data
    model = _ssm(X.shape[1], scale)
    s = call_or_named_error(rts_smoother, ("x",), model, X)
    if s is None:
        assert np.isinf(np.asarray(X, np.float64)).any()
        return
    f = kalman_filter(model, X)
    assert_positive_definite("filtered covariances", f.covariances)
    assert_positive_definite("smoothed covariances", s.covariances)
    assert_finite("smoothed means", s.means)
    assert np.isfinite(s.log_likelihood)


@SETTINGS
@given(data=data_matrices(max_cols=2, kinds=("plain", "duplicates", "constant_column", "one_row", "two_rows",
                                             "scaled_up", "scaled_down", "nonfinite", "float32")))
@example(data=("one_row", np.zeros((1, 1), np.float32)))
def test_kalman_em_is_valid_or_names_x(data):
    kind, X = data
    model = _ssm(X.shape[1], 1.0)
    result = call_or_named_error(kalman_em, ("x",), model, X, max_iter=15)
    if result is None:
        assert np.isinf(np.asarray(X, np.float64)).any() or np.isnan(np.asarray(X, np.float64)).all()
        return
    fitted = result.model
    for name in ("Q", "R", "P0"):
        assert_positive_definite(name, getattr(fitted, name))
    assert_finite("A", fitted.A)
    assert_finite("C", fitted.C)
    trace = result.log_likelihood
    assert_finite("log-likelihood trace", trace)
    assert (np.diff(trace) >= -1e-8 * np.abs(trace[:-1]).clip(1.0)).all(), f"EM decreased: {trace}"
    assert_converged_flag(result)


def test_float32_probability_rows_are_renormalised():
    """Regression (issue 18): float32 initial [1/3, 2/3] sums to 1 + 3e-8 in float64 and was kept as is, so a sequence
    with one certain symbol had log p = +2.98e-8 > 0. Rows are now checked at the input's precision and
    renormalised: log p = 0 exactly."""
    model = CategoricalHMM(np.array([1 / 3, 2 / 3], np.float32), np.array([[1.0, 0.0], [1.0, 0.0]]),
                           np.array([[1.0], [1.0]]))
    np.testing.assert_array_equal(model.log_likelihood(np.array([[0]])), [0.0])
    assert model.initial.dtype == np.float64 and model.initial.sum() == 1.0
    import pytest

    with pytest.raises(ValueError, match="transition: expected rows that are probability vectors .* off by 0.01"):
        CategoricalHMM(np.array([1.0]), np.array([[1.01]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="off by 0.001"):   # within float32's 3.5e-4 but not float64's 1.5e-8
        CategoricalHMM(np.array([0.5, 0.501]), np.eye(2), np.eye(2))
    CategoricalHMM(np.array([0.5, 0.5001], np.float32), np.eye(2), np.eye(2))   # float32 rounding: accepted


def test_gaussian_hmm_variances_far_from_the_origin_and_at_small_scale():
    """Regression (issue 18): the M-step's E[x^2] - mu^2 cancelled for data at 1e8 (variance 0.25 came out 0 and was
    floored), and the absolute 1e-9 floor swamped data in units of 1e-8 (variance 2.5e-17 came out 1e-9)."""
    for offset, scale in ((1e8, 1.0), (0.0, 1e-8)):
        x = (offset + scale * np.array([0.0, 1.0, 0.0, 1.0]))[None, :, None]
        model = GaussianHMM(np.ones(1), np.ones((1, 1)), np.array([[offset]]), np.array([[scale ** 2]]))
        fitted = baum_welch(model, x, max_iter=3).model
        np.testing.assert_allclose(fitted.means, [[offset + 0.5 * scale]], rtol=1e-15)
        np.testing.assert_allclose(fitted.variances, [[0.25 * scale ** 2]], rtol=1e-8)


def test_kalman_em_on_one_observation_floors_R():
    """Regression (issue 18): kalman_em on x = [[0.0]] fitted R = 0 exactly, and the next step's constructor raised
    'R must be symmetric positive definite' from inside EM. R now sits at the floor 1e-12 x the data's scale (1 for
    all-zero data) and the fit returns."""
    model = LinearGaussianSSM(0.9, 1.0, 1.0, 1.0, 0.0, 1.0)
    result = kalman_em(model, np.array([[0.0]], np.float32), max_iter=15)
    assert result.model.R[0, 0] > 0 and np.isfinite(result.log_likelihood).all()
    assert (np.diff(result.log_likelihood) >= 0).all()
