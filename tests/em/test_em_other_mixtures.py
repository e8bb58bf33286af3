"""Student-t mixtures (a degeneracy remedy, Remark 2.10) and Bernoulli mixtures on binarised digits (Ex. 2.3)."""

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_digits

from pgm_ppl.em import (StudentTMixtureParams, align_labels, bernoulli_mixture_log_joint, fit_bernoulli_mixture,
                        fit_gmm, fit_student_t_mixture, student_t_mixture_log_prob)


def assert_monotone(trace, rtol=1e-10):
    trace = np.asarray(trace)
    assert np.all(np.diff(trace) >= -rtol * np.abs(trace).max()), np.diff(trace).min()


@pytest.fixture(scope="module")
def heavy_tailed():
    rng = np.random.default_rng(2)
    a = stats.multivariate_t([0, 0], [[1, 0.3], [0.3, 1]], df=3).rvs(400, random_state=rng)
    b = stats.multivariate_t([7, 7], [[1, 0], [0, 2]], df=3).rvs(400, random_state=rng)
    return np.concatenate([a, b])


def test_student_t_log_prob_against_scipy():
    params = StudentTMixtureParams(np.array([0.4, 0.6]), np.array([[0.0, 0.0], [3.0, 1.0]]),
                                   np.array([[[1.0, 0.2], [0.2, 2.0]], [[0.5, 0.0], [0.0, 0.5]]]),
                                   np.array([3.0, 7.5]))
    X = np.random.default_rng(0).normal(size=(50, 2)) * 2
    ref = sum(w * stats.multivariate_t(m, s, df=v).pdf(X)
              for w, m, s, v in zip(params.weights, params.means, params.scales, params.df))
    np.testing.assert_allclose(student_t_mixture_log_prob(X, params), np.log(ref), rtol=1e-12)


def test_student_t_mixture_learns_heavy_tails(heavy_tailed):
    result = fit_student_t_mixture(heavy_tailed, 2, df=10.0, max_iter=300, tol=1e-10)
    assert_monotone(result.log_likelihood_trace)
    # true df 3 (fits: 3.22, 3.14). With the scales known, 400 points give df an sd of 0.31 (Fisher information
    # (1/4)[psi'(nu/2) - psi'((nu+p)/2)] - p(nu+p+4) / (2 nu (nu+p)(nu+p+2)), Lange et al. 1989); estimating them
    # widens it, so (1.5, 6) is at most 4.8 sd below and 9.6 above; the start (df 10) or a Gaussian fit lies outside
    assert np.all((result.params.df > 1.5) & (result.params.df < 6.0))
    gmm = fit_gmm(heavy_tailed, 2, max_iter=300)
    assert result.log_likelihood > gmm.log_likelihood
    np.testing.assert_allclose(result.log_likelihood, student_t_mixture_log_prob(heavy_tailed, result.params).sum(),
                               rtol=1e-12)


def test_student_t_with_huge_df_is_a_gaussian_mixture(heavy_tailed):
    """nu -> infinity recovers the Gaussian mixture: same fixed point from the same start."""
    gmm = fit_gmm(heavy_tailed, 2, max_iter=1000, tol=1e-12)
    t = fit_student_t_mixture(heavy_tailed, 2, df=1e8, learn_df=False, init=gmm.params, max_iter=5)
    np.testing.assert_allclose(t.log_likelihood, gmm.log_likelihood, rtol=1e-6)
    np.testing.assert_allclose(t.params.means, gmm.params.means, atol=1e-4)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return (d.data >= 8).astype(float), d.target


def test_bernoulli_mixture_on_binarised_digits(digits):
    X, y = digits
    result = fit_bernoulli_mixture(X, 10, pseudo_count=1.0, seed=0)
    assert_monotone(result.log_likelihood_trace)
    np.testing.assert_allclose(result.responsibilities.sum(1), 1.0, rtol=1e-12)
    accuracy = 1 - align_labels(y, result.responsibilities.argmax(1), 10).cost / len(y)
    assert accuracy > 0.5                     # chance is 0.1; EM finds most digit classes (deterministic, seed 0)
    p = result.params
    log_prior = stats.beta(2.0, 2.0).logpdf(p.probs).sum() - p.probs.size * np.log(6.0)   # Beta(2,2) = 6 r (1-r)
    log_lik = np.logaddexp.reduce(bernoulli_mixture_log_joint(X, p), axis=1).sum()
    np.testing.assert_allclose(result.log_likelihood, log_lik + log_prior, rtol=1e-12)


def test_bernoulli_log_joint_against_scipy(digits):
    X = digits[0][:40]
    rng = np.random.default_rng(0)
    w, probs = np.array([0.3, 0.7]), rng.uniform(0.05, 0.95, size=(2, 64))
    from pgm_ppl.em import BernoulliMixtureParams
    ref = np.log(w) + np.stack([stats.bernoulli(probs[k]).logpmf(X).sum(1) for k in range(2)], 1)
    np.testing.assert_allclose(bernoulli_mixture_log_joint(X, BernoulliMixtureParams(w, probs)), ref, rtol=1e-12)


def test_maximum_likelihood_bernoulli_is_monotone(digits):
    result = fit_bernoulli_mixture(digits[0], 5, max_iter=50, seed=1)
    assert_monotone(result.log_likelihood_trace)


def test_errors(digits):
    with pytest.raises(ValueError, match="X must contain only 0 and 1; got 0.5 at row 0, column 1"):
        fit_bernoulli_mixture(np.array([[0.0, 0.5], [1.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="df must be positive"):
        fit_student_t_mixture(np.zeros((5, 2)), 1, df=0.0)
