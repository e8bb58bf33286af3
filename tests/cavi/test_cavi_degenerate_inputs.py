"""Issue 18, kind 2 on the CAVI side: a constant column and a single sample (Bayesian and DP mixtures)."""

import warnings

import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture

from pgm_ppl.cavi import NormalWishartPrior, fit_bayesian_gmm, sklearn_lower_bound_offset
from pgm_ppl.dp import cavi as dp_cavi


@pytest.fixture(scope="module")
def with_constant_column():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(100, 3)) - 3, rng.normal(size=(100, 3)) + 3])
    return np.column_stack([X, np.full(200, 7.0)])


def test_bayesian_gmm_with_a_constant_column_converges_like_scikit_learn(with_constant_column):
    X = with_constant_column
    ours = fit_bayesian_gmm(X, 2, seed=0)
    reference = BayesianGaussianMixture(n_components=2, weight_concentration_prior_type="dirichlet_distribution",
                                        random_state=0).fit(X)
    assert np.all(np.isfinite(ours.elbo))
    assert ours.converged and len(ours.elbo) <= reference.n_iter_
    order, ref_order = np.argsort(ours.state.m[:, 0]), np.argsort(reference.means_[:, 0])
    np.testing.assert_allclose(ours.weights[order], reference.weights_[ref_order], atol=1e-6)
    np.testing.assert_allclose(ours.state.m[order], reference.means_[ref_order], atol=1e-6)


def test_dp_cavi_with_a_constant_column_has_a_finite_bound(with_constant_column):
    result = dp_cavi.run(with_constant_column, 2, seed=0)
    assert result.converged and np.all(np.isfinite(result.lower_bounds))
    np.testing.assert_allclose(np.sort(result.weights), [0.5, 0.5], atol=0.01)


def test_one_sample_is_an_error_as_in_scikit_learn(with_constant_column):
    with pytest.raises(ValueError, match=r"X: expected at least 2 row\(s\)"):
        fit_bayesian_gmm(with_constant_column[:1], 1)
    with pytest.raises(ValueError, match=r"X: expected at least 2 row\(s\)"):
        dp_cavi.run(with_constant_column[:1], 1)


class _FixedInit(BayesianGaussianMixture):
    """scikit-learn's estimator started from given responsibilities instead of k-means."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp0)


@pytest.mark.parametrize("value, shape", [(0.0, (2, 1)), (3.0, (40, 2)), (7.0, (60, 3))])
def test_all_constant_data_bound_never_falls_and_equals_scikit_learn_given_the_prior(value, shape):
    """Issue 18: on all-constant data the reg_covar ridge (N_k * reg_covar per component, as scikit-learn) was the only
    scale, and with scikit-learn's prior the bound fell (X = [[0], [0]], K = 2: -9.43 then -12.08) while the fit said
    converged. The default prior now carries nu0 * reg_covar: W_k^-1 = nu_k * reg_covar for every k, so the ridge
    shifts every component equally and the bound is a coordinate ascent again. scikit-learn given the same prior and
    the same initial responsibilities runs the same updates: same bound (after the constant offset) and factors."""
    X = np.full(shape, value)
    K = 2
    resp0 = np.random.default_rng(0).dirichlet(np.ones(K), size=len(X))
    ours = fit_bayesian_gmm(X, K, init_resp=resp0, max_iter=200)
    assert ours.converged and np.all(np.isfinite(ours.elbo))
    # non-decreasing up to the rounding of the bound's terms (each O(|bound|), float64)
    assert np.all(np.diff(ours.elbo) >= -64 * np.finfo(float).eps * np.abs(ours.elbo[1:])), ours.elbo
    prior = NormalWishartPrior.default(X, K, reg_covar=1e-6)
    reference = _FixedInit(n_components=K, weight_concentration_prior_type="dirichlet_distribution",
                           covariance_prior=prior.covariance, max_iter=len(ours.elbo), tol=0.0)
    reference.resp0 = resp0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about fewer distinct points than components
        reference.fit(X)
    shifted = np.asarray(reference.lower_bounds_) + sklearn_lower_bound_offset(len(X), prior, K)
    np.testing.assert_allclose(ours.elbo, shifted, rtol=1e-9)
    np.testing.assert_allclose(ours.weights, reference.weights_, rtol=1e-9)
    # the ridge is the covariance where the data do not vary: (nu_k W_k)^-1 = reg_covar I, as scikit-learn reports
    # off-diagonal entries are rounding noise (~1e-26): compared at 1e-9 of the covariances' scale, reg_covar
    np.testing.assert_allclose(ours.covariances, reference.covariances_, rtol=1e-9, atol=1e-9 * 1e-6)
    np.testing.assert_allclose(ours.covariances, np.broadcast_to(1e-6 * np.eye(shape[1]), ours.covariances.shape),
                               rtol=1e-6, atol=1e-9 * 1e-6)


def test_default_prior_is_the_sample_covariance_plus_the_ridge_of_its_pseudo_observations():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    d = 3
    # full rank (condition ~1e4 < 1/sqrt(eps)): the sample covariance unchanged, plus nu0 * reg_covar
    np.testing.assert_allclose(NormalWishartPrior.default(X, 2, reg_covar=1e-4).covariance,
                               np.cov(X.T) + d * 1e-4 * np.eye(d), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(NormalWishartPrior.default(X, 2).covariance, np.cov(X.T))
    # collinear columns: only the null direction (1, -1, 0)/sqrt 2 is lifted, to sqrt(eps) of the largest variance
    collinear = np.column_stack([X[:, 0], X[:, 0], X[:, 1]])
    prior = NormalWishartPrior.default(collinear, 2).covariance
    null = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
    top = np.linalg.eigvalsh(np.cov(collinear.T))[-1]
    assert abs(null @ prior @ null / (np.sqrt(np.finfo(float).eps) * top) - 1) < 1e-6
    np.testing.assert_allclose(prior - np.cov(collinear.T), np.sqrt(np.finfo(float).eps) * top * np.outer(null, null),
                               atol=1e-6 * np.sqrt(np.finfo(float).eps) * top)
    # all-constant data: no spread, so the floor is at the rounding level of the data's magnitude (7^2 eps), never a
    # fixed number
    constant = NormalWishartPrior.default(np.full((5, 2), 7.0), 2).covariance
    np.testing.assert_allclose(constant, 2 * np.finfo(float).eps * 49.0 * np.eye(2), rtol=1e-12)
    with pytest.raises(ValueError, match=r"reg_covar: expected a finite number >= 0, got -1"):
        NormalWishartPrior.default(X, 2, reg_covar=-1.0)
