"""Exact GP regression against scikit-learn's GaussianProcessRegressor at fixed hyper-parameters
(eqs. (4.22), (4.29)-(4.30)) to 1e-6 relative, hyper-parameter learning (Alg. 2) reaching
scikit-learn's optimum, and GPyTorch's conjugate-gradient path against Cholesky at N = 2,000."""

import re

import numpy as np
import pytest
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process import kernels as sk

from pgm_ppl.gp import kernels as K
from pgm_ppl.gp.exact import CGOptions, log_marginal_likelihood, posterior, train, train_cg

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 10, size=(60, 1))
Y = np.sin(X[:, 0]) + 0.3 * RNG.normal(size=60)
XS = np.linspace(-1, 12, 40)[:, None]
NOISE = 0.1
CASES = [
    (K.squared_exponential(1.3, 1.5), 1.5 * sk.RBF(1.3)),
    (K.matern(1.5, 2.0, 0.8), 0.8 * sk.Matern(2.0, nu=1.5)),
    (K.rational_quadratic(1.0, 0.7, 1.2), 1.2 * sk.RationalQuadratic(1.0, 0.7)),
    (K.squared_exponential(3.0) * K.periodic(1.0, 6.0) + K.squared_exponential(0.5, 0.2),
     sk.RBF(3.0) * sk.ExpSineSquared(1.0, 6.0) + 0.2 * sk.RBF(0.5)),
]


@pytest.mark.parametrize("ours, reference", CASES)
def test_matches_scikit_learn_at_fixed_hyperparameters(ours, reference):
    gpr = GaussianProcessRegressor(reference, alpha=NOISE, optimizer=None).fit(X, Y)
    np.testing.assert_allclose(log_marginal_likelihood(ours, X, Y, NOISE), gpr.log_marginal_likelihood_value_,
                               rtol=1e-6)
    mean, cov = gpr.predict(XS, return_cov=True)
    pred = posterior(ours, X, Y, NOISE).predict(XS, full_cov=True)
    np.testing.assert_allclose(pred.mean, mean, rtol=1e-6, atol=1e-6 * np.abs(mean).max())
    np.testing.assert_allclose(pred.covariance, cov, rtol=1e-6, atol=1e-6 * np.abs(cov).max())


def test_predictive_interval_and_noise():
    gp = posterior(K.squared_exponential(), X, Y, NOISE)
    pred = gp.predict(XS, include_noise=True)
    latent = gp.predict(XS)
    np.testing.assert_allclose(pred.std**2, latent.std**2 + NOISE, rtol=1e-10)
    np.testing.assert_allclose(pred.upper - pred.mean, 1.959963984540054 * pred.std, rtol=1e-10)
    assert pred.covariance is None
    assert (pred.target, latent.target) == ("y", "f")
    np.testing.assert_allclose(pred.variance, pred.std**2, rtol=1e-12)


def test_trained_gp_predicts_without_the_data_again():
    result = train(K.squared_exponential(), X, Y, noise_variance=NOISE, max_iter=20)
    again = posterior(result.kernel, X, Y, result.noise_variance).predict(XS, include_noise=True, full_cov=True)
    pred = result.predict(XS, include_noise=True, full_cov=True)
    np.testing.assert_array_equal(pred.mean, again.mean)
    np.testing.assert_array_equal(pred.covariance, again.covariance)


@pytest.mark.parametrize("optimizer, steps", [("lbfgs", 100), ("adam", 300)])
def test_training_reaches_scikit_learns_optimum(optimizer, steps):
    gpr = GaussianProcessRegressor(1.0 * sk.RBF(1.0) + sk.WhiteKernel(NOISE), n_restarts_optimizer=2,
                                   random_state=0).fit(X, Y)
    result = train(K.squared_exponential(), X, Y, noise_variance=NOISE, optimizer=optimizer, max_iter=steps,
                   learning_rate=0.05, num_restarts=2, seed=0)
    assert result.restart_values.shape == (3,)
    # Both optimisers reach scikit-learn's optimum to ~1e-12 in the LML (measured). scikit-learn's L-BFGS-B stops
    # when the relative change falls below factr * eps = 1e7 * 2.2e-16, i.e. ~5e-8 at |LML| ~ 22, so 1e-6 is 20x
    # its own stopping accuracy (was 1e-3). At the optimum -d^2 LML / d(log noise)^2 = 25.6, so an LML within
    # 1e-6 pins log noise to sqrt(2e-6 / 25.6) = 2.8e-4 with the kernel held fixed; rtol 2e-3 (was 2e-2) leaves 7x
    # for its correlation with the kernel's parameters; measured 1e-7.
    np.testing.assert_allclose(result.log_marginal_likelihood, gpr.log_marginal_likelihood_value_, atol=1e-6)
    np.testing.assert_allclose(result.noise_variance, gpr.kernel_.k2.noise_level, rtol=2e-3)
    assert result.losses[-1] <= result.losses[0]


def test_conjugate_gradient_path_agrees_with_cholesky():
    result = train_cg(K.squared_exponential(), X, Y, noise_variance=NOISE, num_steps=60, learning_rate=0.1)
    best = train(K.squared_exponential(), X, Y, noise_variance=NOISE, max_iter=100)
    # The reported value is an SLQ estimate at the CG run's parameters: its error against the exact (4.22) there
    # is bounded as in test_conjugate_gradient_log_marginal_likelihood_at_scale (sd <= sqrt(2 / t) / 2 *
    # ||K - LL^T||_F / noise, here ~4e-4; |error| < 4 sd).
    exact_there = log_marginal_likelihood(result.kernel, X, Y, result.noise_variance)
    L = result.kernel(torch.as_tensor(X)).pivoted_cholesky(rank=CGOptions().preconditioner_rank).detach()
    residual = torch.linalg.matrix_norm(torch.as_tensor(K.gram(result.kernel, X)) - L @ L.T).item()
    sd = 0.5 * np.sqrt(2 / CGOptions().num_probes) * residual / result.noise_variance
    assert abs(result.log_marginal_likelihood - exact_there) < 4 * sd
    # Adam with stochastic log-determinants stops near, not at, the optimum of eq. (4.22): 3.5e-3 below it after
    # 60 steps (measured). 0.5 is an optimiser budget, not a derived bound: the LML climbs 3.8 nats from the start
    # (-26.1) to the optimum (-22.3), and the run must recover 87% of that.
    assert exact_there > best.log_marginal_likelihood - 0.5


@pytest.fixture(scope="module")
def large():
    """N = 2,000 points: CG with the rank-15 pivoted-Cholesky preconditioner and stochastic log-determinants."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 2000)
    return x, np.sin(x) + 0.3 * rng.normal(size=2000), K.squared_exponential(1.0, 1.0), 0.09


def test_conjugate_gradient_log_marginal_likelihood_at_scale(large):
    x, y, kernel, noise = large
    exact = log_marginal_likelihood(kernel, x, y, noise)
    state = torch.random.get_rng_state()
    estimate = log_marginal_likelihood(kernel, x, y, noise, cg=CGOptions(seed=3))
    assert torch.equal(torch.random.get_rng_state(), state)  # probes come from a forked, seeded RNG
    assert log_marginal_likelihood(kernel, x, y, noise, cg=CGOptions(seed=3)) == estimate
    # The only stochastic term is the SLQ estimate of log|C| = log|P| + tr log(P^-1 C) with t = 10 Gaussian
    # probes: sd = sqrt(2 sum_i log^2 lambda_i / t) over the eigenvalues lambda_i >= 1 of P^-1 C, with
    # P = LL^T + noise I. As 0 <= log lambda <= lambda - 1 and P >= noise I, sum_i log^2 lambda_i <=
    # ||K - LL^T||_F^2 / noise^2. The LML is -1/2 log|C| + ..., so |error| >= 4 sd has probability below
    # 1e-4 for a Gaussian error, at most 1/16 by Chebyshev whatever its law (CG's error on y^T C^-1 y is
    # far below this at the default tolerance).
    L = kernel(torch.as_tensor(x[:, None])).pivoted_cholesky(rank=CGOptions().preconditioner_rank).detach()
    residual = torch.linalg.matrix_norm(torch.as_tensor(K.gram(kernel, x, x)) - L @ L.T).item()
    sd = 0.5 * np.sqrt(2 / CGOptions().num_probes) * residual / noise
    assert 0 < sd < 1.0  # the preconditioner makes the estimate useful: ~0.1% of |LML| ~ 500
    assert abs(estimate - exact) < 4 * sd


def test_conjugate_gradient_posterior_at_scale(large):
    x, y, kernel, noise = large
    xs = np.linspace(-1, 11, 50)
    exact = posterior(kernel, x, y, noise).predict(xs, full_cov=True)
    fast = posterior(kernel, x, y, noise, cg=CGOptions(tol=1e-4)).predict(xs, full_cov=True)
    # Deterministic (no probes): CG's relative residual reaches ~1e-6 on this system, an error ~1e-5; a
    # solve that ignored the noise or stopped early would be off by more than 1e-2.
    np.testing.assert_allclose(fast.mean, exact.mean, atol=1e-4 * np.abs(exact.mean).max())
    np.testing.assert_allclose(fast.covariance, exact.covariance, atol=1e-4 * np.abs(exact.covariance).max())
    diagonal = posterior(kernel, x, y, noise, cg=CGOptions(tol=1e-4)).predict(xs)
    np.testing.assert_allclose(diagonal.std, fast.std, rtol=1e-8)


def test_cg_options_are_validated():
    with pytest.raises(ValueError, match=re.escape("CGOptions.num_probes must be a positive integer, got 0")):
        CGOptions(num_probes=0)
    with pytest.raises(ValueError, match="CGOptions.tol must be positive"):
        CGOptions(tol=0.0)
    # GPyTorch's CG stops on a relative residual only: an absolute rule is refused, not silently ignored
    assert CGOptions().tol_rule == "relative"
    with pytest.raises(ValueError, match=r"CGOptions.tol_rule: expected 'relative' .*, got 'absolute'"):
        CGOptions(tol_rule="absolute")


def test_bad_inputs_name_the_culprit():
    with pytest.raises(ValueError, match=r"y: expected shape \(60,\)"):
        log_marginal_likelihood(K.squared_exponential(), X, Y[:-1], NOISE)
    with pytest.raises(ValueError, match="noise"):
        posterior(K.squared_exponential(), X, Y, -1.0)
    with pytest.raises(ValueError, match="optimizer"):
        train(K.squared_exponential(), X, Y, optimizer="sgd")
