"""Property: EM mixtures and latent-factor models on degenerate data (issue 18)."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgm_ppl.em import (fit_bernoulli_mixture, fit_factor_analysis, fit_gmm, fit_student_t_mixture,
                        gmm_log_likelihood, ppca_closed_form)
from property_strategies import (SETTINGS, assert_converged_flag, assert_finite, assert_positive_definite,
                                 assert_probability_vector, call_or_named_error, data_matrices, has_nonfinite)


def _full_covariances(params):
    cov, K, d = np.asarray(params.covariances), *params.means.shape
    if params.covariance_type == "full":
        return cov
    if params.covariance_type == "tied":
        return np.broadcast_to(cov, (K, d, d))
    if params.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(d)


@SETTINGS
@given(data=data_matrices(), num_components=st.integers(1, 4),
       covariance_type=st.sampled_from(["full", "tied", "diag", "spherical"]),
       init=st.sampled_from(["kmeans", "k-means++", "random", "random_from_data"]))
def test_fit_gmm_is_valid_or_names_the_argument(data, num_components, covariance_type, init):
    kind, X = data
    result = call_or_named_error(fit_gmm, ("X", "num_components", "covariance", "reg_covar"), X, num_components,
                                 covariance_type=covariance_type, init=init, max_iter=30)
    if result is None:
        assert has_nonfinite(X) or num_components > len(X) or kind in ("scaled_down", "scaled_up", "constant_column",
                                                                        "one_row", "two_rows", "duplicates")
        return
    assert not has_nonfinite(X)
    p = result.params
    assert p.means.shape[0] <= num_components
    assert_probability_vector("weights", p.weights)
    assert (p.weights > 0).all(), f"a ghost component: weights {p.weights}"
    assert_finite("means", p.means)
    assert_positive_definite("covariances", _full_covariances(p))
    assert np.isfinite(result.log_likelihood)
    np.testing.assert_allclose(result.log_likelihood, gmm_log_likelihood(np.asarray(X, np.float64), p),
                               rtol=1e-6, atol=1e-6)
    assert_converged_flag(result)


@settings(SETTINGS, max_examples=15)
@given(data=data_matrices(), num_factors=st.integers(1, 3), isotropic=st.booleans())
def test_fit_factor_analysis_is_valid_or_names_the_argument(data, num_factors, isotropic):
    kind, X = data
    result = call_or_named_error(fit_factor_analysis, ("X", "num_factors"), X, num_factors, isotropic=isotropic,
                                 max_iter=50)
    if result is None:
        return
    assert not has_nonfinite(X) and len(X) >= 2
    p = result.params
    assert_finite("loadings", p.loadings)
    assert_finite("mean", p.mean)
    assert (p.noise_variance > 0).all() and np.isfinite(p.noise_variance).all(), p.noise_variance
    assert_positive_definite("model covariance", p.covariance())
    assert np.isfinite(result.log_likelihood)
    assert_converged_flag(result)


@SETTINGS
@given(data=data_matrices(), num_factors=st.integers(1, 3))
@example(data=("one_row", np.zeros((1, 2), np.float32)), num_factors=1)
@example(data=("duplicates", np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])), num_factors=1)
def test_ppca_closed_form_is_valid_or_names_the_argument(data, num_factors):
    kind, X = data
    p = call_or_named_error(ppca_closed_form, ("X", "num_factors"), X, num_factors)
    if p is None:
        return
    assert not has_nonfinite(X)
    assert_finite("loadings", p.loadings)
    assert (p.noise_variance > 0).all() and np.isfinite(p.noise_variance).all(), p.noise_variance
    assert_positive_definite("model covariance", p.covariance())


@SETTINGS
@given(data=data_matrices(integer_values=True, kinds=("plain", "duplicates", "constant_column", "one_row",
                                                      "two_rows", "float32")),
       num_components=st.integers(1, 4), pseudo_count=st.sampled_from([0.0, 1.0]))
def test_fit_bernoulli_mixture_log_likelihood_is_at_most_zero(data, num_components, pseudo_count):
    kind, X = data
    X = (np.asarray(X) > 0).astype(X.dtype)
    result = call_or_named_error(fit_bernoulli_mixture, ("X", "num_components"), X, num_components,
                                 pseudo_count=pseudo_count, max_iter=50)
    if result is None:
        assert num_components > len(X)
        return
    assert_probability_vector("weights", result.params.weights)
    assert ((result.params.probs >= 0) & (result.params.probs <= 1)).all()
    assert_probability_vector("responsibilities", result.responsibilities)
    if pseudo_count == 0:
        assert result.log_likelihood <= 1e-9, result.log_likelihood
    assert np.isfinite(result.log_likelihood)
    assert_converged_flag(result)


@settings(SETTINGS, max_examples=10)
@given(data=data_matrices(kinds=("plain", "duplicates", "constant_column", "two_rows", "nonfinite", "float32"),
                          max_rows=6, max_cols=2),
       num_components=st.integers(1, 3))
@example(data=("two_rows", np.zeros((2, 1), np.float32)), num_components=2)
def test_fit_student_t_mixture_is_valid_or_names_the_argument(data, num_components):
    kind, X = data
    result = call_or_named_error(fit_student_t_mixture, ("X", "num_components"), X, num_components, max_iter=10)
    if result is None:
        return
    assert not has_nonfinite(X)
    p = result.params
    assert_probability_vector("weights", p.weights)
    assert_finite("means", p.means)
    assert_positive_definite("scales", p.scales if hasattr(p, "scales") else p.covariances)
    assert np.isfinite(result.log_likelihood)
    assert_converged_flag(result)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gmm_log_likelihood_far_from_the_origin(covariance_type):
    """Regression (issue 18): a constant column at -1e6 (variance reg_covar = 1e-6) made gmm_log_likelihood of the
    fitted diag mixture 20.85 instead of the fit's 18.85 (the expanded Mahalanobis term cancelled every digit)."""
    X = np.array([[-1e6, 0.0], [-1e6, 0.0], [-1e6, 0.0], [-1e6, 2.0]])
    result = fit_gmm(X, 1, covariance_type=covariance_type)
    expected = (-0.5 * np.log(2 * np.pi * 1e-6) * 4                               # the constant column
                + (-0.5 * np.log(2 * np.pi * (0.75 + 1e-6)) * 4 - 0.5 * 3.0 / (0.75 + 1e-6)))
    if covariance_type == "spherical":
        s2 = (0.75 / 2 + 1e-6)
        expected = -np.log(2 * np.pi * s2) * 4 - 0.5 * 3.0 / s2
    np.testing.assert_allclose(result.log_likelihood, expected, rtol=1e-12)
    np.testing.assert_allclose(gmm_log_likelihood(X, result.params), expected, rtol=1e-12)


def test_ppca_closed_form_on_data_in_a_subspace():
    """Regression (issue 18): rows on a line gave sigma^2 = 0 (or -1e-17 from eigh), a singular model covariance;
    one row gave all-zero parameters. sigma^2 now sits at the factor-analysis floor; one row is refused."""
    X = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    p = ppca_closed_form(X, 1)
    mean_variance = np.var(X, axis=0).mean()
    np.testing.assert_allclose(p.noise_variance, 1e-12 * mean_variance, rtol=1e-6)
    np.testing.assert_allclose(p.covariance(), np.cov(X.T, bias=True) + 1e-12 * mean_variance * np.eye(2),
                               rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="X: expected at least 2 row"):
        ppca_closed_form(np.zeros((1, 2)), 1)
    with pytest.raises(ValueError, match="X: expected at least one column that varies"):
        ppca_closed_form(np.ones((3, 2)), 1)


def test_student_t_mixture_with_fewer_distinct_rows_than_components():
    """Regression (issue 18): two equal rows with K = 2 raised 'init must be a full-covariance GMMParams with means
    of shape (2, 1); got (1, 1)' (the default GMM start had dropped the duplicate component); now one component and
    the distinct-cluster warning."""
    from pgm_ppl.core.convergence import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(1\)"):
        result = fit_student_t_mixture(np.array([[0.0], [0.0]]), 2, max_iter=5, tol=0.0)
    assert result.params.means.shape == (1, 1)
    np.testing.assert_allclose(result.params.weights, [1.0])
