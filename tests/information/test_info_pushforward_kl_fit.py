"""Pushforwards (course §1.3, Ex. 1.2-1.3) and forward/reverse KL fitting (Ex. 1.12, exercise 4)."""

import math

import numpy as np
import pytest
import torch
from scipy import optimize, stats
from torch.distributions import (AffineTransform, ComposeTransform, ExpTransform, MultivariateNormal, Normal,
                                 TransformedDistribution)

from pgm_ppl.information import (fit_gaussian_kl, kl_gradient_flow, kl_normal, pushforward_discrete,
                                 pushforward_histogram, pushforward_log_density)


def std_normal(x):
    return Normal(torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)).log_prob(x)


def test_discrete_pushforward_adds_masses():
    """Fig. 1.1: P = (0.2, 0.5, 0.3) on {1, 2, 3}, T = {1: a, 2: b, 3: b}."""
    out = pushforward_discrete({1: 0.2, 2: 0.5, 3: 0.3}, {1: "a", 2: "b", 3: "b"})
    assert out.keys() == {"a", "b"}
    assert out["a"] == pytest.approx(0.2) and out["b"] == pytest.approx(0.8)
    parity = pushforward_discrete({k: 1 / 6 for k in range(1, 7)}, lambda k: k % 2)
    assert parity[0] == pytest.approx(0.5) and parity[1] == pytest.approx(0.5)


def test_square_of_a_standard_normal_is_chi_squared():
    """Ex. 1.3: T(x) = x^2 has two inverse branches; the summed density is chi^2_1 (to 1e-8)."""
    y = torch.linspace(1e-3, 12.0, 300, dtype=torch.float64)
    log_p = pushforward_log_density(std_normal, [torch.sqrt, lambda v: -torch.sqrt(v)], y)
    np.testing.assert_allclose(log_p.numpy(), stats.chi2(1).logpdf(y.numpy()), rtol=1e-8, atol=1e-12)
    outside = pushforward_log_density(std_normal, [torch.sqrt, lambda v: -torch.sqrt(v)],
                                      torch.tensor([-1.0], dtype=torch.float64))
    assert outside.item() == -math.inf


def test_single_branch_matches_torch_transformed_distribution():
    y = torch.linspace(0.05, 8.0, 100, dtype=torch.float64)
    base = Normal(torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.8, dtype=torch.float64))
    ours = pushforward_log_density(base.log_prob, [torch.log], y)
    ref = TransformedDistribution(base, [ExpTransform()]).log_prob(y)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)


def test_inverse_of_a_torch_transform_is_a_branch():
    T = ComposeTransform([AffineTransform(0.5, 2.0), ExpTransform()])
    base = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    y = torch.linspace(0.1, 5.0, 50, dtype=torch.float64)
    np.testing.assert_allclose(pushforward_log_density(base.log_prob, [T.inv], y).numpy(),
                               TransformedDistribution(base, [T]).log_prob(y).numpy(), rtol=1e-12)


def test_linear_map_in_two_dimensions_uses_the_jacobian_determinant():
    A = torch.tensor([[2.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
    A_inv = torch.linalg.inv(A)
    base = MultivariateNormal(torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64))
    y = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = pushforward_log_density(base.log_prob, [lambda v: A_inv @ v], y)
    ref = MultivariateNormal(torch.zeros(2, dtype=torch.float64), A @ A.T).log_prob(y)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)


def test_pushforward_histogram_by_source_quantile():
    """Fig. 1.2a: N(0, 1) pushed through the split map; equal-mass source bins; density integrates to one."""
    x = np.random.default_rng(1).normal(size=50000)
    h = pushforward_histogram(x, lambda v: np.where(v < 0, v + 2, v - 2), num_source_bins=10, num_target_bins=60)
    assert h.counts.shape == (10, 60)
    # 50000 = 10 x 5000 and the interpolated quantile edges fall strictly between order statistics: exact counts
    np.testing.assert_array_equal(h.counts.sum(1), 5000)
    np.testing.assert_allclose((h.density.sum(0) * np.diff(h.target_edges)).sum(), 1.0, rtol=1e-12)
    # the map swaps the halves: the source bin just below 0 lands near +2, the one just above 0 near -2. Bins 4 and
    # 5 meet at the sample median, not at 0: the share of bin 5 below 0 (sent to +2) has sd phi(0) sd(median) / 0.1
    # = 0.4 x sqrt(pi / 2 / 50000) / 0.1 = 0.022 (0.038 here), so 0.9 is 4.5 sd; a map without the swap gives 0
    centres = 0.5 * (h.target_edges[1:] + h.target_edges[:-1])
    assert h.counts[4][centres > 1.5].sum() > 0.9 * h.counts[4].sum()
    assert h.counts[5][centres < -1.5].sum() > 0.9 * h.counts[5].sum()


def mixture_log_density(x):
    comps = torch.stack([math.log(0.3) + Normal(-3.0, 0.7).log_prob(x), math.log(0.7) + Normal(2.0, 1.0).log_prob(x)])
    return torch.logsumexp(comps, 0)


def test_forward_kl_matches_moments():
    """KL(p || q) is minimised by the Gaussian with the mean and variance of p (mode covering)."""
    fit = fit_gaussian_kl(mixture_log_density, "forward", lower=-12, upper=12, num_steps=600, num_grid=1201)
    mean = 0.3 * -3 + 0.7 * 2
    var = 0.3 * (0.49 + 9) + 0.7 * (1 + 4) - mean ** 2
    np.testing.assert_allclose([fit.mean, fit.std], [mean, math.sqrt(var)], rtol=1e-6)
    assert np.all(np.diff(fit.kl_trace[-100:]) <= 1e-10)


def test_reverse_kl_seeks_a_mode():
    """KL(q || p) started near the right mode settles on it, close to N(2, 1) (mode seeking)."""
    fit = fit_gaussian_kl(mixture_log_density, "reverse", lower=-12, upper=12, init_mean=1.0, num_steps=400,
                          num_grid=1201)
    left = fit_gaussian_kl(mixture_log_density, "reverse", lower=-12, upper=12, init_mean=-2.0, num_steps=400,
                           num_grid=1201)
    # Reference: the same trapezoidal KL(q || p) written in scipy and minimised by Nelder-Mead from the same starts.
    # The local optima sit off the components, (1.984, 1.024) and (-2.981, 0.726): the other mode pulls. Adam's
    # deterministic iterates reach them to 2e-8 in 400 steps; 1e-6 is that with room for rounding.
    grid = np.linspace(-12, 12, 1201)
    log_p = np.logaddexp(math.log(0.3) + stats.norm(-3.0, 0.7).logpdf(grid),
                         math.log(0.7) + stats.norm(2.0, 1.0).logpdf(grid))

    def reverse_kl(theta):
        q = stats.norm(theta[0], np.exp(theta[1]))
        return np.trapezoid(q.pdf(grid) * (q.logpdf(grid) - log_p), grid)

    for result, init_mean in [(fit, 1.0), (left, -2.0)]:
        reference = optimize.minimize(reverse_kl, [init_mean, 0.0], method="Nelder-Mead",
                                      options=dict(xatol=1e-10, fatol=1e-14, maxiter=5000))
        np.testing.assert_allclose([result.mean, result.std], [reference.x[0], np.exp(reference.x[1])], atol=1e-6)
    assert abs(fit.mean - 2.0) < 0.05 and abs(fit.std - 1.0) < 0.05  # close to N(2, 1): the pull is 0.02
    assert left.kl > fit.kl  # the lighter mode is a worse local optimum


def test_gradient_flow_exact_and_notes_versions():
    flow = kl_gradient_flow(0.0, 1.0, 3.0, 2.0, step_mean=0.5, step_std=0.3, num_steps=200)
    np.testing.assert_allclose([flow.mean[-1], flow.std[-1]], [0.0, 1.0], atol=1e-6)
    assert np.all(np.diff(flow.kl) <= 1e-12)
    np.testing.assert_allclose(flow.kl[0], kl_normal(0.0, 1.0, 3.0, 2.0), rtol=1e-12)
    notes = kl_gradient_flow(0.0, 1.0, 10.0, 20.0, step_mean=10.0, step_std=6.6, num_steps=30, exact_gradient=False)
    assert notes.mean.shape == (31,)
    np.testing.assert_allclose(notes.mean[1], 10 - 10 * 10 / 400)
    np.testing.assert_allclose(notes.std[1], 20 - 6.6 * (400 - 1) / 8000)


def test_errors():
    with pytest.raises(ValueError, match="Unknown direction 'backward'"):
        fit_gaussian_kl(mixture_log_density, "backward", lower=-1, upper=1)
    with pytest.raises(ValueError, match="pmf must have non-negative masses summing to 1"):
        pushforward_discrete({1: 0.5}, {1: 2})
    with pytest.raises(ValueError, match="T has no image for source point 2"):
        pushforward_discrete({1: 0.5, 2: 0.5}, {1: "a"})


def test_pushforward_keeps_float64_numpy_input():
    """Issue 18, kind 7: the chi-squared(1) density of the notes' example to rounding, not to float32."""
    from scipy.stats import chi2
    from torch.distributions import Normal

    y = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    log_density = pushforward_log_density(Normal(0.0, 1.0).log_prob, [torch.sqrt, lambda t: -torch.sqrt(t)], y)
    assert log_density.dtype == torch.float64
    np.testing.assert_allclose(log_density.exp().numpy(), chi2(1).pdf(y), rtol=1e-14)
