"""Factor analysis, PPCA and mixtures of factor analysers by EM against scikit-learn and closed forms."""

import numpy as np
import pytest
from scipy import stats
from sklearn.decomposition import FactorAnalysis

from pgm_ppl.em import (factor_analysis_log_likelihood, fit_factor_analysis, fit_mfa, mfa_log_prob,
                        ppca_closed_form)


def assert_monotone(trace, rtol=1e-10):
    trace = np.asarray(trace)
    assert np.all(np.diff(trace) >= -rtol * np.abs(trace).max()), np.diff(trace).min()


@pytest.fixture(scope="module")
def fa_data():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(8, 3))
    noise = rng.uniform(0.3, 1.5, 8)
    return rng.normal(size=(500, 3)) @ W.T + rng.normal(size=(500, 8)) * noise + rng.normal(size=8)


def test_factor_analysis_matches_sklearn(fa_data):
    ours = fit_factor_analysis(fa_data, 3, tol=1e-14, max_iter=20000)
    ref = FactorAnalysis(3, tol=1e-12, max_iter=20000).fit(fa_data)
    n = len(fa_data)
    np.testing.assert_allclose(ours.log_likelihood, ref.score(fa_data) * n, rtol=1e-6)
    # loadings are identified up to rotation: compare C = W W^T + Psi
    np.testing.assert_allclose(ours.params.covariance(), ref.get_covariance(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ours.log_likelihood, factor_analysis_log_likelihood(fa_data, ours.params), rtol=1e-12)
    assert_monotone(ours.log_likelihood_trace)


def test_ppca_em_reaches_the_closed_form(fa_data):
    em = fit_factor_analysis(fa_data, 3, isotropic=True, tol=1e-14, max_iter=20000)
    exact = ppca_closed_form(fa_data, 3)
    np.testing.assert_allclose(em.log_likelihood, factor_analysis_log_likelihood(fa_data, exact), rtol=1e-8)
    np.testing.assert_allclose(em.params.covariance(), exact.covariance(), atol=1e-5)
    assert np.ptp(em.params.noise_variance) == 0
    assert_monotone(em.log_likelihood_trace)


def test_log_likelihood_against_scipy(fa_data):
    params = fit_factor_analysis(fa_data, 2, max_iter=50).params
    ref = stats.multivariate_normal(params.mean, params.covariance()).logpdf(fa_data).sum()
    np.testing.assert_allclose(factor_analysis_log_likelihood(fa_data, params), ref, rtol=1e-12)


def test_mfa_with_one_component_is_factor_analysis(fa_data):
    mfa = fit_mfa(fa_data, 1, 3, tol=1e-12, max_iter=5000, min_noise_variance=1e-9)
    fa = fit_factor_analysis(fa_data, 3, tol=1e-12, max_iter=5000)
    np.testing.assert_allclose(mfa.log_likelihood, fa.log_likelihood, rtol=1e-6)
    np.testing.assert_allclose(mfa.params.means[0], fa_data.mean(0), atol=1e-6)


def test_mfa_on_three_subspace_clusters():
    rng = np.random.default_rng(1)
    blocks = [rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(200, 6)) + 6.0 * k
              for k in range(3)]
    X = np.concatenate(blocks)
    result = fit_mfa(X, 3, 2, max_iter=100)
    assert_monotone(result.log_likelihood_trace)
    # each block lies within noise 0.3 of its own 2-d plane and the blocks are offset by 6 in all 6 coordinates
    # (14.7, mostly off the other planes: tens of noise sds), so every responsibility is 0 or 1 to double
    # precision and the weights are 200/600 exactly (an N_k / (N + 1) slip would be 5.5e-4 off)
    np.testing.assert_allclose(np.sort(result.params.weights), np.full(3, 1 / 3), atol=1e-9)
    p = result.params
    dens = sum(w * stats.multivariate_normal(m, c).pdf(X) for w, m, c in zip(p.weights, p.means, p.covariances()))
    np.testing.assert_allclose(mfa_log_prob(X, p), np.log(dens), rtol=1e-10)
    np.testing.assert_allclose(mfa_log_prob(X, p).sum(), result.log_likelihood, rtol=1e-12)


def test_errors(fa_data):
    with pytest.raises(ValueError, match="num_factors must be between 1 and d = 8; got 9"):
        fit_factor_analysis(fa_data, 9)
    with pytest.raises(ValueError, match="num_factors must be between 1 and d - 1 = 7; got 8"):
        fit_mfa(fa_data, 2, 8)
