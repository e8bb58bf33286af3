"""Divergences of course chapter 1 against closed forms (eqs. (1.19)-(1.38)), scipy and torch."""

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import rel_entr

from pgm_ppl.information import (bernoulli_entropy, chi_squared_divergence, chi_squared_quadrature, cross_entropy,
                                 differential_cross_entropy, differential_entropy, entropy, kl_divergence,
                                 kl_divergence_monte_carlo, kl_divergence_quadrature, kl_mvn, kl_normal, l1_distance,
                                 l1_distance_quadrature)

GAUSS = [(0.0, 1.0, 0.0, 2.0), (1.0, 2.0, -0.5, 0.7), (3.0, 0.3, 2.5, 1.1)]


def norm_logpdf(mu, sigma):
    return lambda x: stats.norm.logpdf(x, mu, sigma)


@pytest.mark.parametrize("mu0,s0,mu1,s1", GAUSS)
def test_gaussian_kl_both_directions_by_quadrature(mu0, s0, mu1, s1):
    """Closed form (1.38) against quadrature, in both directions, to 1e-8."""
    p, q = norm_logpdf(mu0, s0), norm_logpdf(mu1, s1)
    np.testing.assert_allclose(kl_divergence_quadrature(p, q), kl_normal(mu0, s0, mu1, s1), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(kl_divergence_quadrature(q, p), kl_normal(mu1, s1, mu0, s0), rtol=1e-8, atol=1e-12)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu0, s0), torch.distributions.Normal(mu1, s1))
    np.testing.assert_allclose(kl_normal(mu0, s0, mu1, s1), float(ref), rtol=1e-6)


def test_kl_is_asymmetric():
    assert kl_normal(0, 1, 0, 3) != pytest.approx(kl_normal(0, 3, 0, 1))


def test_multivariate_gaussian_kl_against_torch():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(2, 3, 3))
    S0, S1 = A @ A.T + np.eye(3), B @ B.T + 0.5 * np.eye(3)
    m0, m1 = rng.normal(size=(2, 3))
    t = torch.distributions
    ref = t.kl_divergence(t.MultivariateNormal(torch.tensor(m0), torch.tensor(S0)),
                          t.MultivariateNormal(torch.tensor(m1), torch.tensor(S1)))
    np.testing.assert_allclose(kl_mvn(m0, S0, m1, S1), float(ref), rtol=1e-10)
    np.testing.assert_allclose(kl_mvn([0.3], [[4.0]], [1.0], [[0.25]]), kl_normal(0.3, 2.0, 1.0, 0.5), rtol=1e-12)


def test_absolute_continuity_failures_give_infinity():
    assert kl_divergence([0.5, 0.5, 0.0], [1.0, 0.0, 0.0]) == np.inf
    assert kl_divergence([1.0, 0.0, 0.0], [0.5, 0.5, 0.0]) == pytest.approx(np.log(2))
    assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert chi_squared_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    unif = lambda x: stats.uniform.logpdf(x, 0.0, 1.0)  # noqa: E731
    gauss = norm_logpdf(0.0, 1.0)
    assert kl_divergence_quadrature(gauss, unif) == np.inf
    # KL(U[0,1] || N(0,1)) = int_0^1 -log phi(x) dx = log(2 pi) / 2 + 1/6
    np.testing.assert_allclose(kl_divergence_quadrature(unif, gauss, 0.0, 1.0), 0.5 * np.log(2 * np.pi) + 1 / 6,
                               rtol=1e-10)
    assert kl_divergence_monte_carlo(gauss, unif, np.array([-1.0, 0.5])).estimate == np.inf
    assert kl_normal(0.0, 1.0, 0.0, 0.0) == np.inf and kl_normal(0.0, 0.0, 0.0, 1.0) == np.inf
    assert kl_normal(1.0, 0.0, 1.0, 0.0) == 0.0
    assert kl_mvn([0, 0], np.eye(2), [0, 0], [[1, 1], [1, 1]]) == np.inf


def test_discrete_entropy_and_cross_entropy():
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    np.testing.assert_allclose(entropy(p), stats.entropy(p), rtol=1e-14)
    np.testing.assert_allclose(entropy(p, base=2), stats.entropy(p, base=2), rtol=1e-14)
    np.testing.assert_allclose(entropy(np.full(6, 1 / 6)), np.log(6), rtol=1e-14)        # maximum, (1.22)-(1.23)
    assert entropy(p) < np.log(6)
    assert entropy(p) <= cross_entropy(p, q)                                               # (1.26)-(1.28)
    np.testing.assert_allclose(kl_divergence(p, q), cross_entropy(p, q) - entropy(p), rtol=1e-12)   # (1.32)
    np.testing.assert_allclose(kl_divergence(p, q), rel_entr(p, q).sum(), rtol=1e-14)
    np.testing.assert_allclose(l1_distance(p, q), np.abs(p - q).sum(), rtol=1e-14)
    np.testing.assert_allclose(chi_squared_divergence(p, q), ((p - q) ** 2 / q).sum(), rtol=1e-14)


def test_bernoulli_entropy_curve():
    theta = np.array([0.0, 0.1, 0.5, 1.0])
    np.testing.assert_allclose(bernoulli_entropy(theta), [0.0, stats.bernoulli(0.1).entropy(), np.log(2), 0.0],
                               rtol=1e-14)


@pytest.mark.parametrize("a,b", [(0.0, 1.0), (2.0, 5.0), (-0.1, 0.15)])
def test_entropy_of_uniform(a, b):
    """h(U[a, b]) = log(b - a) (Ex. 1.8), negative when b - a < 1 (Remark 1.9)."""
    log_p = lambda x: stats.uniform.logpdf(x, a, b - a)  # noqa: E731
    np.testing.assert_allclose(differential_entropy(log_p, a, b), np.log(b - a), rtol=1e-10, atol=1e-12)


def test_differential_entropy_and_cross_entropy_of_gaussians():
    p, q = norm_logpdf(1.0, 2.0), norm_logpdf(0.0, 1.5)
    np.testing.assert_allclose(differential_entropy(p), stats.norm(1.0, 2.0).entropy(), rtol=1e-10)
    np.testing.assert_allclose(differential_cross_entropy(p, q) - differential_entropy(p), kl_normal(1, 2, 0, 1.5),
                               rtol=1e-9)


def test_l1_and_chi_squared_between_gaussians():
    p, q = norm_logpdf(0.0, 1.0), norm_logpdf(1.0, 1.0)
    np.testing.assert_allclose(l1_distance_quadrature(p, q), 2 * (2 * stats.norm.cdf(0.5) - 1), rtol=1e-9)
    # chi^2(N(m0, s0^2) || N(m1, s1^2)) = s1^2 / (s0 sqrt(2 s1^2 - s0^2)) exp((m0 - m1)^2 / (2 s1^2 - s0^2)) - 1
    s0, s1, m0, m1 = 1.0, 1.3, 0.2, -0.4
    closed = s1 ** 2 / (s0 * np.sqrt(2 * s1 ** 2 - s0 ** 2)) * np.exp((m0 - m1) ** 2 / (2 * s1 ** 2 - s0 ** 2)) - 1
    np.testing.assert_allclose(chi_squared_quadrature(norm_logpdf(m0, s0), norm_logpdf(m1, s1)), closed, rtol=1e-8)


def test_monte_carlo_kl_within_its_standard_error():
    x = np.random.default_rng(0).normal(1.0, 2.0, size=20000)
    mc = kl_divergence_monte_carlo(norm_logpdf(1.0, 2.0), norm_logpdf(-0.5, 1.5), x)
    assert abs(mc.estimate - kl_normal(1.0, 2.0, -0.5, 1.5)) < 4 * mc.standard_error
    # the standard error is the draws' own (an inflated one would make the line above unable to fail); rtol 1e-4
    # leaves room for ddof 0 or 1 (a relative 2.5e-5 at n = 20000)
    log_ratio = stats.norm(1.0, 2.0).logpdf(x) - stats.norm(-0.5, 1.5).logpdf(x)
    np.testing.assert_allclose([mc.estimate, mc.standard_error],
                               [log_ratio.mean(), log_ratio.std() / np.sqrt(len(x))], rtol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match=r"p: expected rows that are probability vectors \(non-negative, summing to 1"):
        entropy([0.5, 0.6])
    with pytest.raises(ValueError, match="p and q must have the same length; got 2 and 3"):
        kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="standard deviations must be >= 0"):
        kl_normal(0, -1, 0, 1)
    with pytest.raises(ValueError, match="lower must be below upper"):
        differential_entropy(norm_logpdf(0, 1), 1.0, 0.0)


@pytest.mark.parametrize("n", [2, 5, 20])
def test_kl_vs_l1_counterexample(n):
    """Ex. 1.9: p = U[0, 1], q_n = e^{-n} on [0, 1/n] and c_n on (1/n, 1]: L1 -> 0 while KL -> 1 ((1.33)-(1.35))."""
    c = (n - np.exp(-n)) / (n - 1)
    log_p = lambda x: np.where((x >= 0) & (x <= 1), 0.0, -np.inf)  # noqa: E731
    log_q = lambda x: np.where(x <= 1 / n, -float(n), np.log(c))  # noqa: E731
    pieces = [(0.0, 1 / n), (1 / n, 1.0)]
    l1 = sum(l1_distance_quadrature(log_p, log_q, a, b) for a, b in pieces)
    kl = sum(kl_divergence_quadrature(log_p, log_q, a, b) for a, b in pieces)
    np.testing.assert_allclose(l1, abs(np.exp(-n) - 1) / n + (n - 1) * abs(c - 1) / n, rtol=1e-10)
    np.testing.assert_allclose(kl, 1 - (n - 1) / n * np.log(c), rtol=1e-10)


@pytest.mark.parametrize("eps", [0.3, 0.1, 1e-3])
def test_kl_vs_chi_squared_counterexample(eps):
    """Ex. 1.10: Bernoulli(eps) vs Bernoulli(eps^2): KL -> 0 while chi^2 -> 1 ((1.36)-(1.37))."""
    p, q = [1 - eps, eps], [1 - eps ** 2, eps ** 2]
    np.testing.assert_allclose(chi_squared_divergence(p, q), (eps ** 2 - eps) ** 2 / (1 - eps ** 2) + (1 - eps) ** 2,
                               rtol=1e-10)
    np.testing.assert_allclose(kl_divergence(p, q), (1 - eps) * np.log(1 / (1 + eps)) + eps * np.log(1 / eps),
                               rtol=1e-10)
