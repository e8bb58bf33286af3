"""Property: the remaining data entry points (MFA, Bayesian linear regression by CAVI, the Gaussian and logistic
classifiers, 1-D and sliced OT) on degenerate inputs (issue 18)."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgm_ppl.cavi import fit_linear_regression
from pgm_ppl.em import fit_mfa
from pgm_ppl.information import fit_gaussian_classifier, fit_logistic_regression
from pgm_ppl.ot import ot_cost_1d, sliced_wasserstein_distance
from property_strategies import (SETTINGS, assert_converged_flag, assert_finite, assert_positive_definite,
                                 assert_probability_vector, call_or_named_error, data_matrices, has_nonfinite)


@settings(SETTINGS, max_examples=15)
@given(data=data_matrices(min_cols=2), num_components=st.integers(1, 3))
def test_fit_mfa_is_valid_or_names_the_argument(data, num_components):
    kind, X = data
    result = call_or_named_error(fit_mfa, ("X", "num_components", "num_factors"), X, num_components, 1, max_iter=15)
    if result is None:
        return
    p = result.params
    assert_probability_vector("weights", p.weights)
    assert_finite("means", p.means)
    assert (p.noise_variance > 0).all()
    assert_positive_definite("covariances", p.covariances())
    assert np.isfinite(result.log_likelihood)


@SETTINGS
@given(data=data_matrices(min_cols=2))
def test_fit_linear_regression_is_valid_or_names_the_argument(data):
    kind, X = data
    result = call_or_named_error(fit_linear_regression, ("X", "y"), X[:, :-1], X[:, -1], max_iter=30)
    if result is None:
        assert has_nonfinite(X)
        return
    assert_finite("posterior mean", result.m)
    assert_positive_definite("posterior covariance", result.S)
    assert_finite("elbo", result.elbo)
    assert_converged_flag(result)


@SETTINGS
@given(data=data_matrices(), labels=st.lists(st.integers(0, 1), min_size=8, max_size=8),
       shared=st.booleans())
@example(data=("scaled_up", np.array([[0.0, 0.0], [1e8, 1.0], [0.0, 0.0]], np.float32)), labels=[0, 0, 1] + [0] * 5,
         shared=True)
def test_gaussian_classifier_is_valid_or_names_the_argument(data, labels, shared):
    kind, X = data
    y = np.array(labels[:len(X)])
    model = call_or_named_error(fit_gaussian_classifier, ("X", "y", "covariance"), X, y, shared_covariance=shared)
    if model is None:
        return
    assert_probability_vector("priors", model.priors)
    assert_positive_definite("covariances", model.covariances)
    assert_finite("log_joint", model.log_joint(np.asarray(X, np.float64)))


@settings(SETTINGS, max_examples=15)
@given(data=data_matrices(), labels=st.lists(st.integers(0, 1), min_size=8, max_size=8))
def test_logistic_regression_is_finite_or_names_the_argument(data, labels):
    kind, X = data
    y = np.array(labels[:len(X)])
    result = call_or_named_error(fit_logistic_regression, ("X", "y"), X, y)
    if result is None:
        return
    assert result.log_likelihood <= 1e-9, "a Bernoulli log-likelihood above zero"
    for value in result.params.values():
        assert_finite("parameters", value)


@SETTINGS
@given(x=data_matrices(max_cols=1), y=data_matrices(max_cols=1))
@example(x=("one_row", np.zeros((1, 1), np.float32)), y=("nonfinite", np.array([[np.nan], [0.0], [0.0]], np.float32)))
def test_one_dimensional_and_sliced_costs(x, y):
    (_, x), (_, y) = x, y
    cost = call_or_named_error(ot_cost_1d, ("x", "y"), x[:, 0], y[:, 0])
    if cost is not None:
        assert np.isfinite(cost) and cost >= 0
        assert float(ot_cost_1d(x[:, 0], x[:, 0])) == 0.0
    sw = call_or_named_error(sliced_wasserstein_distance, ("x", "y"), x, y, num_projections=20)
    if sw is not None:
        assert np.isfinite(sw) and sw >= 0
    if cost is None or sw is None:
        assert has_nonfinite(x) or has_nonfinite(y)


def test_gaussian_classifier_refuses_a_covariance_singular_to_rounding():
    """Regression (issue 18): class 0 = rows (0, 0), (1e8, 1), (0, 0) lie on a line; the pooled covariance's smallest
    eigenvalue came out +2.8e-17 (not <= 0), the fit returned, and log_joint failed later. Now the fit refuses it."""
    import pytest

    X = np.array([[0.0, 0.0], [1e8, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"X: the covariance of class 0 is singular"):
        fit_gaussian_classifier(X, np.array([0, 0, 1]))


def test_ot_cost_1d_names_a_non_finite_atom():
    """Regression (issue 18): a NaN atom gave a NaN cost (and numpy RuntimeWarnings from POT), no error."""
    import pytest

    with pytest.raises(ValueError, match=r"'y': expected finite points, got nan at row 0"):
        ot_cost_1d(np.zeros(1), np.array([np.nan, 0.0, 0.0]))


def test_logistic_regression_on_separable_data_says_the_mle_is_infinite():
    """Regression (issue 18): X = 0, 1, 2, 3 with y = 0, 0, 1, 1 returned weights 56, intercept -85, log-likelihood
    -2e-12 and converged=True, silently: the maximum-likelihood weights are infinite (statsmodels warns of perfect
    separation). Now a ConvergenceWarning says so and converged is False; overlapping data still converge."""
    import pytest

    from pgm_ppl.core.convergence import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="separates the classes of y perfectly"):
        result = fit_logistic_regression(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    assert not result.converged
    overlapping = fit_logistic_regression(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 1, 0, 1]))
    assert overlapping.converged and np.isfinite(overlapping.params["weights"]).all()
