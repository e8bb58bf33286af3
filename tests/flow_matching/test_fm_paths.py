"""Probability paths, conditional fields (Prop. 8.1), the Gaussian marginal field (Thm 8.1) and Thm 8.2."""

import math

import numpy as np
import pytest
import torch

from pgm_ppl.flow_matching import (BrownianBridgePath, FlowMatchingModel, GaussianMarginal, LinearPath, LipmanOTPath,
                                   ProbabilityPath,
                                   VariancePreservingPath, make_path)
from pgm_ppl.flows.continuous import ContinuousFlow

PATHS = [LinearPath(0.0), LinearPath(0.3), LipmanOTPath(0.1), BrownianBridgePath(0.7), VariancePreservingPath(0.2)]
IDS = ["rectified", "icfm", "lipman", "bridge", "vp"]


def _draws(n, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, dtype=torch.float64) for _ in range(3)]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_conditional_field_is_the_time_derivative_of_the_conditional_flow(path):
    """Prop. 8.1: v_t(phi_t(x) | z) = d/dt phi_t(x) (central differences, float64); the CFM target agrees."""
    x0, x1, noise = _draws(50)
    h = 1e-6
    for t in (0.13, 0.5, 0.81):
        derivative = (path.sample(t + h, x0, x1, noise) - path.sample(t - h, x0, x1, noise)) / (2 * h)
        xt = path.sample(t, x0, x1, noise)
        torch.testing.assert_close(path.conditional_field(t, xt, x0, x1), derivative, atol=1e-7, rtol=1e-6)
        torch.testing.assert_close(path.target(t, x0, x1, noise), derivative, atol=1e-7, rtol=1e-6)


def test_lipman_field_is_eq_8_20_and_ignores_the_source_draw():
    path = LipmanOTPath(0.1)
    x0, x1, other = _draws(20)
    t = torch.rand(20, dtype=torch.float64)
    xt = path.sample(t, x0, x1)
    expected = (x1 - 0.9 * xt) / (1 - 0.9 * t[:, None])
    torch.testing.assert_close(path.conditional_field(t, xt, other, x1), expected)
    torch.testing.assert_close(path.sample(torch.zeros(()), x0, x1), x0)  # p_0 = N(0, I): the source itself
    torch.testing.assert_close(path.sample(torch.ones(()), x0, x1), x1 + 0.1 * x0)  # N(x1, sigma_min^2 I)
    mean, std = path.conditional_mean_std(torch.tensor(0.25), x0, x1)
    torch.testing.assert_close(mean, 0.25 * x1)
    assert float(std) == pytest.approx(1 - 0.9 * 0.25)


def test_make_path_errors_name_the_argument():
    with pytest.raises(ValueError, match="path: expected one of"):
        make_path("straight")
    with pytest.raises(ValueError, match="sigma"):
        LinearPath(-1.0)
    with pytest.raises(ValueError, match="noise"):
        BrownianBridgePath(1.0).target(0.5, *_draws(3)[:2])


def _gaussian_problem(path):
    mean1 = torch.tensor([2.0, -1.0], dtype=torch.float64)
    cov1 = torch.tensor([[1.0, 0.6], [0.6, 0.8]], dtype=torch.float64)
    eye = torch.eye(2, dtype=torch.float64)
    return GaussianMarginal(path, torch.zeros(2, dtype=torch.float64), eye, mean1, cov1)


@pytest.mark.parametrize("path", PATHS[1:], ids=IDS[1:])
def test_marginal_pair_solves_the_continuity_equation(path):
    """Thm 8.1: d/dt p_t + div(p_t v_t) = 0 for the closed-form marginal path and field (finite differences)."""
    marginal = _gaussian_problem(path)
    x = torch.tensor([[0.3, -0.2], [1.5, 0.4], [-1.0, 1.0]], dtype=torch.float64)
    t, h = 0.4, 1e-5
    dp_dt = (marginal.log_prob(t + h, x).exp() - marginal.log_prob(t - h, x).exp()) / (2 * h)
    x = x.requires_grad_(True)
    flux = marginal.log_prob(t, x).exp()[:, None] * marginal(torch.tensor(t), x)
    divergence = sum(torch.autograd.grad(flux[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(2))
    torch.testing.assert_close(dp_dt, -divergence.detach(), atol=1e-8, rtol=1e-5)


@pytest.mark.parametrize("path", PATHS[1:], ids=IDS[1:])
def test_cfm_and_fm_gradients_agree_in_expectation(path):
    """Thm 8.2 on a Gaussian problem whose marginal field is known: with the same draws, grad L_CFM - grad L_FM is
    the mean of 2 J^T (v_t(x_t) - u_t), which has expectation 0 (each coordinate within 4 standard errors), while
    the gradient itself is far from 0."""
    marginal = _gaussian_problem(path)
    n = 20_000
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(n, 2, generator=g, dtype=torch.float64)
    x1 = marginal.mean1 + torch.randn(n, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(marginal.cov1).T
    noise = torch.randn(n, 2, generator=g, dtype=torch.float64)
    t = torch.rand(n, generator=g, dtype=torch.float64).clamp(1e-3, 1 - 1e-3)
    xt, ut = path.sample(t, x0, x1, noise), path.target(t, x0, x1, noise)
    vt = marginal(t, xt)
    # a linear field v_theta(t, x) = A x + b + t c at a fixed theta
    A = torch.tensor([[0.5, -0.2], [0.1, 0.3]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.2, -0.4], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True)
    v = xt @ A.T + b + t[:, None] * c
    cfm = torch.autograd.grad((v - ut).pow(2).sum(-1).mean(), (A, b, c), retain_graph=True)
    fm = torch.autograd.grad((v - vt).pow(2).sum(-1).mean(), (A, b, c))
    residual = vt - ut  # per-sample 2 J^T residual: A -> 2 r x^T, b -> 2 r, c -> 2 t r
    per_sample = torch.cat([(2 * residual[:, :, None] * xt[:, None, :]).reshape(n, -1), 2 * residual,
                            2 * t[:, None] * residual], dim=1)
    difference = torch.cat([(f - g_).reshape(-1) for f, g_ in zip(cfm, fm)])
    torch.testing.assert_close(difference, per_sample.mean(0))  # the identity behind the test
    se = per_sample.std(0) / math.sqrt(n)
    assert (difference.abs() < 4 * se).all(), (difference / se)
    gradient = torch.cat([f.reshape(-1) for f in fm])
    assert (gradient.abs() > 20 * se).sum() >= 4  # the test could see a biased gradient


def test_marginal_field_in_the_continuous_flow_gives_the_analytic_log_density():
    """Lipman's path from N(0, I): p_1 = N(m1, S1 + sigma_min^2 I). The exact marginal field as a model's field,
    solved by dopri5 with the exact divergence, gives that log-density; Euler with 400 steps transports the mean."""
    marginal = _gaussian_problem(LipmanOTPath(0.1))
    model = FlowMatchingModel(marginal, path=LipmanOTPath(0.1), log_prob_tol=1e-9)
    x = torch.tensor([[2.0, -1.0], [0.5, 0.3], [3.5, -2.5], [1.0, -1.5]], dtype=torch.float64)
    expected = torch.distributions.MultivariateNormal(marginal.mean1, marginal.cov1 + 0.01 * torch.eye(2,
                                                      dtype=torch.float64)).log_prob(x)
    torch.testing.assert_close(model.log_prob(x), expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(marginal.log_prob(1.0, x), expected)
    flow = ContinuousFlow(marginal, features=2, solver="rk4", num_steps=50)
    u = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(flow.transport(u)[0], marginal.mean1, atol=1e-8, rtol=1e-8)  # mean flows to mean


def test_gaussian_marginal_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="mean0"):
        GaussianMarginal(LinearPath(0.1), torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2))


def test_marginal_field_vectorised_over_times_matches_scalar_times():
    marginal = _gaussian_problem(BrownianBridgePath(0.5))
    x = torch.tensor(np.random.default_rng(0).normal(size=(4, 2)))
    t = torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=torch.float64)
    rows = torch.stack([marginal(t[i], x[i:i + 1])[0] for i in range(4)])
    torch.testing.assert_close(marginal(t, x), rows)


@pytest.mark.parametrize("sigma", [0.0, 0.3])
def test_linear_path_fast_draw_equals_the_generic_one(sigma):
    path, (x0, x1, _) = LinearPath(sigma), _draws(7)
    t = torch.rand(7, dtype=torch.float64)
    torch.manual_seed(0)
    fast = path.sample_and_target(t, x0, x1)
    torch.manual_seed(0)
    generic = ProbabilityPath.sample_and_target(path, t, x0, x1)
    for a, b in zip(fast[:2], generic[:2]):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(fast[1], x1 - x0)
