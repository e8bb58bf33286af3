"""Closed forms (1-D quantile OT, Bures, sliced) and Monge maps against the LP, POT and the notes' exercises."""

import re

import numpy as np
import ot
import pytest
import torch
from scipy import stats

from pgm_ppl.ot import (
    barycentric_projection,
    cost_matrix,
    exact_ot,
    gaussian_ot_map,
    gaussian_w2_sq,
    monotone_map_1d,
    ot_cost_1d,
    quantile_ot_cost,
    sliced_wasserstein_distance,
    wasserstein_distance_empirical,
)

S_MU = np.array([[2.0, 0.8], [0.8, 1.0]])
S_NU = np.array([[1.0, -0.7], [-0.7, 2.0]])  # does not commute with S_MU
M_MU, M_NU = np.zeros(2), np.array([1.0, -0.5])


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_quantile_ot_equals_exact_lp(p):
    """Corollary (Brenier in 1-D): sorting / quantile matching solves the LP for any convex |x-y|^p."""
    rng = np.random.default_rng(int(p))
    x, y = rng.normal(size=40), rng.gamma(2.0, size=55)
    a, b = rng.dirichlet(np.ones(40)), rng.dirichlet(np.ones(55))
    lp = float(exact_ot(a, b, np.abs(x[:, None] - y[None, :]) ** p).cost)
    assert abs(float(ot_cost_1d(x, y, a, b, p=p)) - lp) < 1e-10
    assert abs(float(wasserstein_distance_empirical(x, y, a, b, p=p)) - lp ** (1 / p)) < 1e-10


def test_two_point_vs_uniform_exercise():
    """Exercise 5.5: mu = (delta_0 + delta_1)/2, nu = U[0, 1]: W_1 = 1/4; its W_2^2 = 1/12."""
    q_mu = lambda t: (t > 0.5).astype(float)  # noqa: E731
    q_nu = lambda t: t  # noqa: E731
    assert abs(quantile_ot_cost(q_mu, q_nu, p=1) - 0.25) < 1e-12
    assert abs(quantile_ot_cost(q_mu, q_nu, p=2) - 1 / 12) < 1e-12


def test_one_dimensional_gaussians_exercise():
    """Exercise 5.7: W_2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2, three ways."""
    m1, s1, m2, s2 = 0.3, 1.5, -1.0, 0.5
    closed = (m1 - m2) ** 2 + (s1 - s2) ** 2
    by_quantiles = quantile_ot_cost(stats.norm(m1, s1).ppf, stats.norm(m2, s2).ppf, p=2, num_points=4000)
    # the two end sub-intervals (width h = 1/4000) hold the unbounded Gaussian tails; quadrature misses
    # about 2 h (s1 - s2)^2 Phi^{-1}(h)^2 / (some nodes) ~ 1e-4 of mass-weighted cost there
    assert abs(by_quantiles - closed) < 1e-4
    assert abs(float(gaussian_w2_sq([m1], [[s1**2]], [m2], [[s2**2]])) - closed) < 1e-10
    T = gaussian_ot_map([m1], [[s1**2]], [m2], [[s2**2]])
    np.testing.assert_allclose(T.A, [[s2 / s1]], atol=1e-12)
    np.testing.assert_allclose(T(np.array([[m1]])), [[m2]], atol=1e-12)


def test_bures_matches_exact_ot_between_large_samples():
    """Bures W_2^2 (non-commuting covariances) vs the exact LP between two samples of 1000 points.

    Tolerance: 4 standard errors of the plug-in estimator, sqrt(Var f / n + Var g / m), with f, g the
    empirical Kantorovich potentials (CLT of del Barrio & Loubes, 2019)."""
    rng = np.random.default_rng(0)
    n = 1000
    x = rng.multivariate_normal(M_MU, S_MU, size=n)
    y = rng.multivariate_normal(M_NU, S_NU, size=n)
    res = exact_ot(ot.unif(n), ot.unif(n), cost_matrix(x, y))
    se = np.sqrt(res.f.var() / n + res.g.var() / n)
    assert abs(float(res.cost) - float(gaussian_w2_sq(M_MU, S_MU, M_NU, S_NU))) < 4 * se


def test_gaussian_map_pushes_forward_and_is_optimal():
    T = gaussian_ot_map(M_MU, S_MU, M_NU, S_NU)
    np.testing.assert_allclose(T.A, T.A.T, atol=1e-10)  # gradient of a convex quadratic (Brenier)
    assert np.all(np.linalg.eigvalsh(T.A) > 0)
    np.testing.assert_allclose(T.A @ S_MU @ T.A, S_NU, atol=1e-10)  # T # mu = nu exactly
    rng = np.random.default_rng(1)
    x = rng.multivariate_normal(M_MU, S_MU, size=20000)
    sq = np.sum((x - T(x)) ** 2, axis=1)
    # transport cost of the map = W_2^2, within 4 Monte Carlo standard errors
    assert abs(sq.mean() - float(gaussian_w2_sq(M_MU, S_MU, M_NU, S_NU))) < 4 * sq.std() / np.sqrt(sq.size)


def test_monotone_map_from_samples_recovers_gaussian_map():
    rng = np.random.default_rng(2)
    x, y = rng.normal(1.0, 2.0, size=50000), rng.normal(-1.0, 0.5, size=50000)
    T = monotone_map_1d(x, y, num_quantiles=200)
    grid = np.linspace(-2.0, 4.0, 7)
    # quantile estimates within +-1.5 sd: errors of order sd / sqrt(n) * (density factor) ~ 0.01
    np.testing.assert_allclose(T(grid), -1.0 + 0.25 * (grid - 1.0), atol=0.03)
    assert np.all(np.diff(T(np.linspace(-10, 10, 101))) >= 0)


def test_barycentric_projection_of_a_permutation_plan_is_the_map():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    plan = exact_ot(ot.unif(30), ot.unif(30), cost_matrix(x, y)).plan
    mapped = barycentric_projection(plan, y)
    np.testing.assert_allclose(mapped, y[np.argmax(plan, axis=1)], atol=1e-12)
    with pytest.raises(ValueError, match=re.escape("'plan' must have shape (n, 30) to match 'y'; got (30, 29)")):
        barycentric_projection(plan[:, :29], y)


def test_sliced_wasserstein_matches_pot_and_1d():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(80, 3)) + 1
    ours = float(sliced_wasserstein_distance(x, y, num_projections=64, seed=5))
    assert abs(ours - ot.sliced_wasserstein_distance(x, y, n_projections=64, p=2, seed=5)) < 1e-12
    # in 1-D every projection is +-1, so SW_2 = W_2
    u, v = rng.normal(size=60), rng.normal(size=60) + 2
    sw = float(sliced_wasserstein_distance(u[:, None], v[:, None], num_projections=8, seed=0))
    assert abs(sw - float(ot_cost_1d(u, v, p=2)) ** 0.5) < 1e-10


def test_torch_path_is_differentiable():
    x = torch.tensor(np.random.default_rng(6).normal(size=(20, 2)), requires_grad=True)
    y = torch.zeros(20, 2, dtype=torch.float64)
    w = wasserstein_distance_empirical(x, y)
    w.backward()
    # W_2 to a Dirac at 0 is the root mean square norm: gradient x / (n W)
    np.testing.assert_allclose(x.grad.numpy(), x.detach().numpy() / (20 * w.item()), atol=1e-10)


def test_closed_form_validation():
    with pytest.raises(ValueError, match=re.escape("'a' must have shape (3,); got (2,)")):
        ot_cost_1d(np.zeros(3), np.zeros(2), a=[0.5, 0.5])
    with pytest.raises(ValueError, match="Gaussian 'nu': mean must be"):
        gaussian_w2_sq(M_MU, S_MU, M_NU, np.eye(3))
