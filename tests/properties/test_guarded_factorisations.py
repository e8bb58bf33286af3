"""Issue 18 item 6: the Cholesky factorisations and PD solves of em, cavi, graphical and information go through
:func:`pgm_ppl.core.linalg.cholesky`, so a matrix that is not positive definite is a ValueError naming it, in the
one message style, never a raw LinAlgError or a silently wrong value."""

import numpy as np
from sklearn.decomposition import FactorAnalysis
import pytest

from pgm_ppl.cavi import NormalWishartPrior, fit_bayesian_gmm, mean_field_gaussian
from pgm_ppl.em import GMMParams, fit_factor_analysis, fit_mfa, sample_gmm
from pgm_ppl.graphical import LinearGaussianSSM
from pgm_ppl.information import GaussianClassifier

NOT_PD = np.array([[1.0, 2.0], [2.0, 1.0]])       # eigenvalues 3 and -1


def test_mean_field_gaussian_names_a_covariance_that_is_not_positive_definite():
    """Was np.linalg.inv: an indefinite 'covariance' ran and returned negative variances."""
    with pytest.raises(ValueError, match=r"cov: expected a positive-definite matrix, .*smallest eigenvalue -1"):
        mean_field_gaussian(np.zeros(2), NOT_PD)
    q = mean_field_gaussian(np.zeros(2), np.array([[2.0, 1.0], [1.0, 2.0]]), num_sweeps=50)
    np.testing.assert_allclose(q.variances, [1.5, 1.5])        # 1 / diag(Sigma^-1)


def test_bayesian_gmm_names_a_prior_covariance_that_is_not_positive_definite():
    """Was np.linalg.slogdet, which returns (sign -1, log|det|) and the ELBO went on with the wrong determinant."""
    X = np.random.default_rng(0).standard_normal((20, 2))
    prior = NormalWishartPrior(0.5, np.zeros(2), 1.0, 2.0, NOT_PD)
    with pytest.raises(ValueError, match=r"prior.covariance: expected a positive-definite matrix"):
        fit_bayesian_gmm(X, 2, prior=prior)


def test_sample_gmm_names_the_covariances():
    params = GMMParams(np.ones(1), np.zeros((1, 2)), np.array([[[1.0, 0.0], [0.0, 1.0]]]))
    draws, labels = sample_gmm(params, 5)
    assert draws.shape == (5, 2)
    bad = GMMParams(np.ones(1), np.zeros((1, 2)), NOT_PD[None])
    with pytest.raises(ValueError, match=r"params.covariances.*expected a positive-definite matrix"):
        sample_gmm(bad, 5)


def test_gaussian_classifier_names_its_covariances():
    model = GaussianClassifier(np.array([0, 1]), np.array([0.5, 0.5]), np.zeros((2, 2)), np.stack([np.eye(2), NOT_PD]),
                               False)
    with pytest.raises(ValueError, match=r"covariances \(matrix 1 of the batch\): expected a positive-definite"):
        model.log_joint(np.zeros((3, 2)))


def test_kalman_constructor_names_the_covariance():
    with pytest.raises(ValueError, match=r"R: expected a positive-definite matrix, .*smallest eigenvalue -1"):
        LinearGaussianSSM(np.eye(1), np.ones((2, 1)), np.eye(1), NOT_PD, np.zeros(1), np.eye(1))
    with pytest.raises(ValueError, match=r"Q: expected a symmetric positive-definite matrix, got a non-symmetric"):
        LinearGaussianSSM(np.eye(2), np.eye(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.eye(2), np.zeros(2), np.eye(2))


def test_factor_analysis_and_mfa_still_fit_through_the_guarded_solves():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 1)) @ np.array([[1.0, 2.0, -1.0]]) + 0.3 * rng.standard_normal((200, 3))
    fa = fit_factor_analysis(X, 1)
    # against the generating loadings the gap is sampling error (N = 200: s.e. of a loading ~ 0.05-0.1, so rtol
    # 0.15 is ~2-3 s.e. of the largest); against scikit-learn's fit of the same sample it is only EM's stopping point
    np.testing.assert_allclose(np.abs(fa.params.loadings[:, 0]), [1.0, 2.0, 1.0], rtol=0.15)
    reference = FactorAnalysis(1, tol=1e-10, max_iter=10_000).fit(X)
    np.testing.assert_allclose(np.abs(fa.params.loadings[:, 0]), np.abs(reference.components_[0]), rtol=1e-3)
    mfa = fit_mfa(X, 1, 1, max_iter=50)
    assert np.isfinite(mfa.log_likelihood)


def test_reg_covar_that_swamps_the_data_is_reported():
    """Issue 18 item 7: reg_covar = 1e-6 is absolute; on data in units of 1e-8 (variance ~1e-16) every fitted
    covariance was ~1e-6, the regularisation, with no word. Now a UserWarning names the column and the ratio;
    data at unit scale, and constant columns (what reg_covar is for), are not warned about."""
    import warnings

    from pgm_ppl.em import fit_gmm

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2))
    with pytest.warns(UserWarning, match=r"fit_gmm: reg_covar=1e-06 is .* times the variance of column 1"):
        fit_gmm(X * [1.0, 1e-8], 1)
    with pytest.warns(UserWarning, match=r"fit_bayesian_gmm: reg_covar=1e-06 .* column 0"):
        fit_bayesian_gmm(X * [1e-8, 1.0], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fit_gmm(np.column_stack([X, np.full(50, 7.0)]), 1)
        result = fit_gmm(X * [1.0, 1e-8], 1, reg_covar=0.0)
    np.testing.assert_allclose(result.params.covariances[0, 1, 1], X[:, 1].var() * 1e-16, rtol=1e-10)


def test_mfa_noise_floor_is_relative_to_the_data():
    """Issue 18 item 7: fit_mfa's min_noise_variance=1e-6 was absolute, so data in units of 1e-4 (variance 1e-8) had
    every noise variance at the floor 1e-6, 100 times the data's variance; now the floor is 1e-6 x the mean
    variance and the fit is the unit-scale fit rescaled."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 1)) @ np.array([[1.0, 2.0, -1.0]]) + 0.3 * rng.standard_normal((300, 3))
    unit, small = fit_mfa(X, 1, 1, max_iter=30), fit_mfa(X * 1e-4, 1, 1, max_iter=30)
    np.testing.assert_allclose(small.params.noise_variance, unit.params.noise_variance * 1e-8, rtol=1e-5)
