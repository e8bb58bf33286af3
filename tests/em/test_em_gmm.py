"""EM Gaussian mixtures against scikit-learn's GaussianMixture, plus EM invariants (course eqs. (2.5)-(2.15), (2.37))."""

import re
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from pgm_ppl.em import (DirichletPrior, GMMParams, InverseWishartPrior, fit_gmm,
                        gmm_log_likelihood, gmm_log_prob, gmm_responsibilities, match_components, sample_gmm)

COV_TYPES = ["full", "tied", "diag", "spherical"]


def assert_monotone(trace, rtol=1e-10):
    """EM never decreases the objective beyond float round-off (course eq. (2.37))."""
    trace = np.asarray(trace)
    assert np.all(np.diff(trace) >= -rtol * np.abs(trace).max()), np.diff(trace).min()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    means = np.array([[0.0, 0.0, 0.0], [4.0, 0.5, 1.0], [0.0, 5.0, -2.0]])
    A = rng.normal(size=(3, 3, 3)) * 0.6 + np.eye(3)
    X = np.concatenate([rng.normal(size=(150, 3)) @ A[k] + means[k] for k in range(3)])
    return X


def sklearn_precisions(params):
    cov = params.covariances
    return np.linalg.inv(cov) if params.covariance_type in ("full", "tied") else 1.0 / cov


def sklearn_from(params, **kwargs):
    return GaussianMixture(params.num_components, covariance_type=params.covariance_type, weights_init=params.weights,
                           means_init=params.means, precisions_init=sklearn_precisions(params), **kwargs)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_same_iterations_as_sklearn(data, covariance_type):
    """Thirty EM steps from the same start give the same parameters as sklearn (same reg_covar)."""
    start = fit_gmm(data, 3, covariance_type=covariance_type, init="random", max_iter=0, seed=3).params
    ours = fit_gmm(data, 3, covariance_type=covariance_type, init=start, max_iter=30, tol=0.0, reg_covar=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sklearn_from(start, max_iter=30, tol=0.0, reg_covar=1e-4).fit(data)
    assert ours.num_iterations == 30
    np.testing.assert_allclose(ours.log_likelihood, ref.score(data) * len(data), rtol=1e-10)
    np.testing.assert_allclose(ours.params.means, ref.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.params.covariances, ref.covariances_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.params.weights, ref.weights_, rtol=1e-8)
    assert_monotone(ours.log_likelihood_trace)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_converged_fit_matches_sklearn(data, covariance_type):
    """Run to convergence under sklearn's stopping rule: same iteration count, log-likelihood to 1e-6."""
    start = fit_gmm(data, 3, covariance_type=covariance_type, init="kmeans", max_iter=0, seed=0).params
    ours = fit_gmm(data, 3, covariance_type=covariance_type, init=start, max_iter=2000, tol=1e-9,
                   tol_rule="absolute")
    ref = sklearn_from(start, max_iter=2000, tol=1e-9).fit(data)
    assert ours.converged and ref.converged_
    assert ours.num_iterations == ref.n_iter_
    np.testing.assert_allclose(ours.log_likelihood, ref.score(data) * len(data), rtol=1e-6)
    perm = match_components(ref.means_, ours.params.means).permutation
    np.testing.assert_allclose(ours.params.means[perm], ref.means_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.params.weights[perm], ref.weights_, rtol=1e-6)
    cov = ours.params.covariances if covariance_type == "tied" else ours.params.covariances[perm]
    np.testing.assert_allclose(cov, ref.covariances_, rtol=1e-6, atol=1e-8)
    assert_monotone(ours.log_likelihood_trace)


def test_permuted_sklearn_start_gives_permuted_fit(data):
    """Label switching: a permuted start gives the same fit up to that permutation (K! equivalent optima)."""
    start = fit_gmm(data, 3, init="kmeans", max_iter=0, seed=0).params
    perm = np.array([2, 0, 1])
    swapped = GMMParams(start.weights[perm], start.means[perm], start.covariances[perm])
    a = fit_gmm(data, 3, init=start, max_iter=50, tol=0.0)
    b = fit_gmm(data, 3, init=swapped, max_iter=50, tol=0.0)
    np.testing.assert_allclose(a.log_likelihood, b.log_likelihood, rtol=1e-12)
    found = match_components(a.params.means, b.params.means).permutation
    np.testing.assert_array_equal(perm[found], np.arange(3))


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_initialisations_and_restarts(data, init):
    result = fit_gmm(data, 3, init=init, num_restarts=3, max_iter=300, seed=1)
    assert result.restart_log_likelihoods.shape == (3,)
    assert result.log_likelihood == pytest.approx(result.restart_log_likelihoods.max())
    assert result.log_likelihood_trace[0] == pytest.approx(gmm_log_likelihood(data, result.initial_params))
    assert_monotone(result.log_likelihood_trace)


def test_random_from_data_is_the_notes_bad_initialisation(data):
    start = fit_gmm(data, 3, init="random_from_data", max_iter=0, seed=2).params
    np.testing.assert_allclose(start.weights, np.full(3, 1 / 3))
    s2 = data.var(axis=0).mean()
    np.testing.assert_allclose(start.covariances, np.broadcast_to(s2 * np.eye(3), (3, 3, 3)))
    assert np.all(np.abs(start.means[:, None, :] - data[None]).max(-1).min(1) < 1e-12)   # means are data points


def test_relative_stopping_rule(data):
    result = fit_gmm(data, 3, max_iter=500, tol=1e-4)
    trace = result.log_likelihood_trace
    assert result.converged
    assert abs(trace[-2] - trace[-3]) < 1e-4 * abs(trace[-3])
    assert np.all(np.abs(np.diff(trace[:-2])) >= 1e-4 * np.abs(trace[:-3]))


def test_elbo_decomposition_along_the_run(data):
    """log p(x|theta_t) = L(q_{t+1}, theta_t) <= L(q_{t+1}, theta_{t+1}) <= log p(x|theta_{t+1}) (2.33)-(2.37)."""
    result = fit_gmm(data, 3, init="random", max_iter=15, tol=0.0, record_elbo=True, seed=4)
    ll, elbo = result.log_likelihood_trace, result.elbo_trace
    scale = 1e-10 * np.abs(ll).max()
    assert np.all(ll[:-1] <= elbo + scale)
    assert np.all(elbo <= ll[1:] + scale)


def test_log_prob_and_responsibilities_against_scipy(data):
    params = fit_gmm(data, 3, max_iter=20).params
    dens = np.stack([w * stats.multivariate_normal(m, c).pdf(data)
                     for w, m, c in zip(params.weights, params.means, params.covariances)], 1)
    np.testing.assert_allclose(gmm_log_prob(data, params), np.log(dens.sum(1)), rtol=1e-12)
    np.testing.assert_allclose(gmm_responsibilities(data, params), dens / dens.sum(1, keepdims=True), atol=1e-12)


def test_sampling_matches_parameters():
    params = GMMParams(np.array([0.3, 0.7]), np.array([[0.0, 0.0], [5.0, 5.0]]),
                       np.array([np.eye(2), [[2.0, 0.5], [0.5, 1.0]]]))
    x, z = sample_gmm(params, 20000, seed=0)
    n1 = (z == 1).sum()
    assert abs(n1 / 20000 - 0.7) < 4 * np.sqrt(0.21 / 20000)
    np.testing.assert_allclose(np.cov(x[z == 1].T), params.covariances[1], atol=5 * np.sqrt(2 * 4 / n1))


def test_map_em_objective_and_optimality(data):
    """MAP-EM: the reported objective is log-lik + scipy's Dirichlet and inverse-Wishart log-densities, it never
    decreases, and small perturbations of the MAP estimate do not raise it."""
    d = data.shape[1]
    wp, cp = DirichletPrior(2.0), InverseWishartPrior(df=d + 2.0, scale=0.5 * np.eye(d))
    result = fit_gmm(data, 3, reg_covar=0.0, weight_prior=wp, covariance_prior=cp, max_iter=3000, tol=1e-13)
    assert_monotone(result.log_likelihood_trace)

    def objective(p):
        return (gmm_log_likelihood(data, p) + stats.dirichlet(np.full(3, 2.0)).logpdf(p.weights)
                + sum(stats.invwishart(df=cp.df, scale=cp.scale).logpdf(c) for c in p.covariances))

    best = objective(result.params)
    np.testing.assert_allclose(result.log_likelihood, best, rtol=1e-12)
    rng = np.random.default_rng(0)
    p = result.params
    for _ in range(5):
        w = p.weights * np.exp(1e-3 * rng.normal(size=3))
        c = p.covariances + 1e-3 * np.einsum("kij,klj->kil", *(2 * [rng.normal(size=(3, d, d))]))
        assert objective(GMMParams(w / w.sum(), p.means + 1e-3 * rng.normal(size=p.means.shape), c)) < best


def test_tied_map_em_monotone(data):
    cp = InverseWishartPrior(df=5.0, scale=np.eye(3))
    result = fit_gmm(data, 3, covariance_type="tied", covariance_prior=cp, reg_covar=0.0, max_iter=100)
    assert_monotone(result.log_likelihood_trace)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_covariance_floor(data, covariance_type):
    floor = 0.8
    result = fit_gmm(data, 3, covariance_type=covariance_type, covariance_floor=floor, reg_covar=0.0, max_iter=200)
    eig = np.linalg.eigvalsh(result.params.full_covariances())
    assert eig.min() >= floor * (1 - 1e-10)
    assert_monotone(result.log_likelihood_trace)


def test_errors(data):
    with pytest.raises(ValueError, match=re.escape("covariance_type: expected one of 'full', 'tied', 'diag', 'spherical', got 'fulll'")):
        fit_gmm(data, 2, covariance_type="fulll")
    with pytest.raises(ValueError, match=re.escape("init: expected one of 'kmeans',")):
        fit_gmm(data, 2, init="kmean")
    with pytest.raises(ValueError, match=re.escape("num_components: expected an integer between 1 and")):
        fit_gmm(data, 0)
    with pytest.raises(ValueError, match="InverseWishartPrior needs covariance_type 'full' or 'tied'"):
        fit_gmm(data, 2, covariance_type="diag", covariance_prior=InverseWishartPrior(5.0, np.eye(3)))
    with pytest.raises(ValueError, match="concentration must be >= 1"):
        fit_gmm(data, 2, weight_prior=DirichletPrior(0.5))
    with pytest.raises(ValueError, match=re.escape("X: expected finite values, got nan at row 1, column 0")):
        fit_gmm(np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 2.0]]), 2)
    with pytest.raises(ValueError, match=re.escape("covariances for covariance_type 'diag' must have shape (2, 3)")):
        GMMParams(np.full(2, 0.5), np.zeros((2, 3)), np.zeros((3, 3)), "diag")  # (K, d, d) full ones now convert


def test_parameter_and_dimension_errors(data):
    params = fit_gmm(data, 2, max_iter=5).params
    with pytest.raises(ValueError, match="X has 2 columns but the mixture has dimension 3"):
        gmm_log_prob(data[:, :2], params)
    with pytest.raises(ValueError, match=re.escape("means must have shape (K, d); got (3,)")):
        GMMParams([1.0], [0.0, 1.0, 2.0], [1.0], "spherical")


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical"])
def test_params_accept_full_covariances_of_any_type(covariance_type):
    """Issue 17: GMMParams takes (K, d, d) covariances for every covariance_type and converts them."""
    K, d = 3, 2
    native = {"tied": np.array([[2.0, 0.5], [0.5, 1.0]]), "diag": np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.25]]),
              "spherical": np.array([1.0, 2.0, 3.0])}[covariance_type]
    reference = GMMParams(np.full(K, 1 / K), np.zeros((K, d)), native, covariance_type)
    converted = GMMParams(np.full(K, 1 / K), np.zeros((K, d)), reference.full_covariances(), covariance_type)
    np.testing.assert_allclose(converted.covariances, native)
    assert converted.covariances.shape == native.shape
    with pytest.raises(ValueError, match="covariances: expected shape"):
        GMMParams(np.full(K, 1 / K), np.zeros((K, d)), np.stack([[[2.0, 0.5], [0.5, 1.0]], np.eye(2), 3 * np.eye(2)]),
                  covariance_type)
