"""The generic EM driver: ELBO decomposition (course eqs. (2.31)-(2.37)), partial M-steps, stopping rules."""

import re

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from pgm_ppl.em import EStep, elbo_decomposition, em_init, em_step, run_em


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(-2.0, 1.0, 300), rng.normal(3.0, 0.5, 200)])


def log_joint(x, theta):
    """1-D two-component mixture: log pi_k + log N(x_n | mu_k, sigma_k^2), shape (N, 2)."""
    w, mu, sd = theta
    return np.log(w) + norm.logpdf(x[:, None], mu, sd)


def e_step(x, theta):
    lj = log_joint(x, theta)
    ln = logsumexp(lj, 1, keepdims=True)
    return EStep(np.exp(lj - ln), float(ln.sum()))


def m_step(x, q, theta):
    nk = q.sum(0)
    mu = q.T @ x / nk
    sd = np.sqrt((q * (x[:, None] - mu) ** 2).sum(0) / nk)
    return nk / len(x), mu, sd


def partial_m_step(x, q, theta):
    """Generalised EM (Remark 2.9): move only half way to the exact M-step optimum of the means."""
    w, mu, sd = theta
    _, mu_star, _ = m_step(x, q, theta)
    return w, 0.5 * (mu + mu_star), sd


START = (np.array([0.5, 0.5]), np.array([-0.5, 0.5]), np.array([2.0, 2.0]))


def test_decomposition_identity_for_any_q(x):
    rng = np.random.default_rng(1)
    q = rng.dirichlet([1.0, 1.0], size=len(x))
    parts = elbo_decomposition(log_joint(x, START), q)
    assert parts.kl > 0
    np.testing.assert_allclose(parts.log_evidence, parts.elbo + parts.kl, rtol=1e-12)
    np.testing.assert_allclose(parts.log_evidence, logsumexp(log_joint(x, START), 1).sum(), rtol=1e-14)


def test_e_step_makes_the_bound_tight_and_m_step_raises_it(x):
    state = em_init(START)
    for _ in range(10):
        old = state.params
        state, info, e = em_step(state, lambda t: e_step(x, t), lambda q, t: m_step(x, q, t),
                                 lambda t: log_joint(x, t))
        assert abs(info.kl_after_e_step) < 1e-9                                  # eq. (2.34)
        np.testing.assert_allclose(info.elbo_before, info.log_likelihood, rtol=1e-12)
        new_ll = e_step(x, state.params).log_likelihood
        assert info.log_likelihood <= info.elbo_after <= new_ll + 1e-9            # eq. (2.37)
        assert info.log_likelihood == pytest.approx(e_step(x, old).log_likelihood)


def test_generalised_em_is_monotone_and_slower(x):
    full = run_em(START, lambda t: e_step(x, t), lambda q, t: m_step(x, q, t), max_iter=500, tol=1e-12)
    gem = run_em(START, lambda t: e_step(x, t), lambda q, t: partial_m_step(x, q, t), max_iter=60, tol=0.0)
    for trace in (full.log_likelihood_trace, gem.log_likelihood_trace):
        assert np.all(np.diff(trace) >= -1e-10 * np.abs(trace).max())
    lj = lambda t: log_joint(x, t)  # noqa: E731
    _, info_full, _ = em_step(em_init(START), lambda t: e_step(x, t), lambda q, t: m_step(x, q, t), lj)
    _, info_gem, _ = em_step(em_init(START), lambda t: e_step(x, t), lambda q, t: partial_m_step(x, q, t), lj)
    assert info_full.elbo_before < info_gem.elbo_after < info_full.elbo_after   # exact M-step maximises L(q, .)
    assert full.converged and len(full.log_likelihood_trace) == full.num_iterations + 1
    # the MLE sits within 3.5 and 5.7 of its sampling sds (1 / sqrt(300), 0.5 / sqrt(200)) of the true means ...
    assert np.sort(full.params[1]) == pytest.approx([-2.0, 3.0], abs=0.2)
    # ... and is scikit-learn's from the same start: both EMs stop 2e-8 apart at these tolerances
    from sklearn.mixture import GaussianMixture

    reference = GaussianMixture(2, covariance_type="diag", tol=1e-14, max_iter=1000, reg_covar=0.0,
                                weights_init=START[0], means_init=START[1][:, None],
                                precisions_init=1 / START[2][:, None] ** 2).fit(x[:, None])
    np.testing.assert_allclose(full.params[0], reference.weights_, atol=1e-6)
    np.testing.assert_allclose(full.params[1], reference.means_[:, 0], atol=1e-6)
    np.testing.assert_allclose(full.params[2], np.sqrt(reference.covariances_[:, 0]), atol=1e-6)


def test_stopping_rules(x):
    run = run_em(START, lambda t: e_step(x, t), lambda q, t: m_step(x, q, t), max_iter=1000, tol=1e-3,
                 tol_rule="absolute", num_observations=len(x))
    trace = run.log_likelihood_trace
    assert abs(trace[-2] - trace[-3]) / len(x) < 1e-3 <= abs(trace[-3] - trace[-4]) / len(x)
    fixed = run_em(START, lambda t: e_step(x, t), lambda q, t: m_step(x, q, t), max_iter=7, tol=0.0)
    assert fixed.num_iterations == 7 and not fixed.converged
    assert np.all(np.isnan(fixed.elbo_trace))


def test_errors():
    with pytest.raises(ValueError, match=re.escape("log_joint and q must both have shape (N, K); got (3, 2) and (3, 3)")):
        elbo_decomposition(np.zeros((3, 2)), np.ones((3, 3)) / 3)
    with pytest.raises(ValueError, match="max_iter must be >= 0"):
        run_em(START, None, None, max_iter=-1)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        run_em(START, None, None, tol=-1.0)
