"""CAVI Bayesian Gaussian mixture against scikit-learn's BayesianGaussianMixture (same priors, same
initial responsibilities, same iterations)."""

import warnings

import arviz as az
import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture

from pgm_ppl.cavi import NormalWishartPrior, fit_bayesian_gmm, sklearn_lower_bound_offset
from pgm_ppl.diagnostics import as_fit

K, ITERS = 4, 25


class _FixedInit(BayesianGaussianMixture):
    """scikit-learn's estimator started from given responsibilities instead of k-means."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp0)


@pytest.fixture(scope="module")
def fits():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    X = np.concatenate([rng.normal(size=(150, 3)) @ rng.normal(size=(3, 3)) * 0.5 + c for c in centres])
    resp0 = rng.dirichlet(np.ones(K), size=len(X))
    reference = _FixedInit(n_components=K, weight_concentration_prior_type="dirichlet_distribution",
                           weight_concentration_prior=0.3, mean_precision_prior=0.5, degrees_of_freedom_prior=4.0,
                           max_iter=ITERS, tol=0.0, n_init=1)
    reference.resp0 = resp0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 runs every iteration on purpose
        reference.fit(X)
    prior = NormalWishartPrior(0.3, X.mean(0), 0.5, 4.0, np.cov(X.T))
    ours = fit_bayesian_gmm(X, K, prior=prior, init_resp=resp0, max_iter=ITERS, tol=0.0)
    return X, prior, reference, ours


# Same updates, same order, same initial responsibilities: the factors agree to rounding (measured 2e-16 relative
# after 25 iterations, the bound 2e-15). 1e-10 leaves five orders for BLAS/platform rounding and is far below any
# algorithmic difference (reg_covar alone changes the factors by ~1e-6 relative).
RTOL = 1e-10


def test_parameters_match_sklearn(fits):
    _, _, ref, ours = fits
    np.testing.assert_allclose(ours.state.alpha, ref.weight_concentration_, rtol=RTOL)
    np.testing.assert_allclose(ours.state.beta, ref.mean_precision_, rtol=RTOL)
    np.testing.assert_allclose(ours.state.nu, ref.degrees_of_freedom_, rtol=RTOL)
    np.testing.assert_allclose(ours.state.m, ref.means_, rtol=RTOL, atol=1e-8 * RTOL)
    np.testing.assert_allclose(ours.covariances, ref.covariances_, rtol=RTOL, atol=1e-8 * RTOL)
    np.testing.assert_allclose(ours.weights, ref.weights_, rtol=RTOL)


def test_lower_bound_matches_sklearn(fits):
    X, prior, ref, ours = fits
    shifted = np.asarray(ref.lower_bounds_) + sklearn_lower_bound_offset(len(X), prior, K)
    assert len(shifted) == len(ours.elbo) == ITERS
    np.testing.assert_allclose(ours.elbo, shifted, rtol=RTOL)


def test_elbo_monotone(fits):
    elbo = fits[3].elbo
    assert np.all(np.diff(elbo) >= -1e-9 * np.abs(elbo[1:]))


def test_default_init_and_validation():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(80, 2)) - 4, rng.normal(size=(80, 2)) + 4])
    result = fit_bayesian_gmm(X, 2, seed=0)
    assert result.converged
    # the clusters are 8 sd apart, so the responsibilities are 0/1 to ~1e-14 and Bishop (10.61) with m_0 = x-bar,
    # beta_0 = 1 gives m_k = (x-bar + 80 x-bar_k) / 81 exactly
    halves = np.stack([X[:80].mean(0), X[80:].mean(0)])
    np.testing.assert_allclose(result.state.m[np.argsort(result.state.m[:, 0])], (X.mean(0) + 80 * halves) / 81,
                               atol=1e-8)
    with pytest.raises(ValueError, match="init_resp"):
        fit_bayesian_gmm(X, 2, init_resp=np.ones((3, 2)))
    with pytest.raises(ValueError, match="num_components"):
        fit_bayesian_gmm(X, 0)


def test_as_fit_draws_match_the_factors(fits):
    ours = fits[3]
    result = as_fit(ours, num_samples=4000, seed=0)
    draws = result.posterior
    assert draws["Lambda"].shape == (1, 4000, K, 3, 3)
    # means of 4000 independent draws: within 5 Monte Carlo standard errors (sd / sqrt(4000)) of the factors' means
    pi, Lambda = draws["pi"][0], draws["Lambda"][0]
    np.testing.assert_array_less(np.abs(pi.mean(0) - ours.weights), 5 * pi.std(0) / np.sqrt(len(pi)))
    # E[Lambda_k] = nu_k W_k, i.e. the inverse of scikit-learn-style covariances
    expected = np.linalg.inv(ours.covariances)
    np.testing.assert_array_less(np.abs(Lambda.mean(0) - expected), 5 * Lambda.std(0) / np.sqrt(len(Lambda)))
    mu = draws["mu"][0]
    assert np.all(np.abs(mu.mean(0) - ours.state.m) < 5 * mu.std(0) / np.sqrt(len(mu)))  # E[mu_k] = m_k
    summary = az.summary(result.to_inference_data(), var_names=["pi"])
    assert summary.shape[0] == K
