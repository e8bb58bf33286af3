"""DDPM as a Pyro model-guide pair (course rows 9.12-9.16): TraceMeanField_ELBO is the DDPM bound with analytic
KLs, the random-t loss is an unbiased estimate of it, the discretised decoder gives bin probabilities."""

import math

import numpy as np
import pyro
import pytest
import torch
from scipy import stats

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.diffusion import DiscretisedGaussian, bits_per_dim, cosine_schedule, ddpm, gaussian_ddpm

M, S = torch.tensor([0.5, -1.0]), torch.tensor([0.7, 1.3])


def _independent_bound(model, x0, trace):
    """L_T + sum_t L_{t-1} + L_0 at the guide's sampled path, from the notes' formulas in numpy (nats per row)."""
    s = model.schedule
    T = s.num_time_steps
    ab, b, a = (s.alpha_bars.numpy(), s.betas.numpy(), s.alphas.numpy())
    x0n = x0.numpy()
    xT = trace.nodes[f"x_{T}"]["value"].detach().numpy()
    # L_T: -KL(N(sqrt(ab_T) x0, 1 - ab_T) || N(0, 1)) per coordinate
    m, v = math.sqrt(ab[T]) * x0n, 1 - ab[T]
    total = -(0.5 * (v + m ** 2 - 1 - np.log(v))).sum(-1)
    for t in range(T, 1, -1):
        xt = trace.nodes[f"x_{t}"]["value"].detach().numpy()
        mq = (math.sqrt(ab[t - 1]) * b[t] * x0n + math.sqrt(a[t]) * (1 - ab[t - 1]) * xt) / (1 - ab[t])
        vq = (1 - ab[t - 1]) / (1 - ab[t]) * b[t]
        mp = model.reverse_mean(torch.as_tensor(xt), t).detach().numpy()
        vp = float(model.reverse_variance(t))
        total -= (0.5 * (np.log(vp / vq) + (vq + (mq - mp) ** 2) / vp - 1)).sum(-1)
    x1 = trace.nodes["x_1"]["value"]
    mp = model.reverse_mean(x1, 1).detach().numpy()
    total += stats.norm(mp, math.sqrt(float(model.reverse_variance(1)))).logpdf(x0n).sum(-1)
    return total


@pytest.fixture(scope="module")
def small_ddpm():
    model = ddpm(2, num_time_steps=12, schedule="cosine", hidden_features=16, seed=3).double()
    x0 = torch.tensor([[0.3, -0.2], [1.5, 0.7], [-1.0, 2.0]], dtype=torch.float64)
    return model, x0


def test_trace_mean_field_elbo_is_the_kl_sum(small_ddpm):
    """TraceMeanField_ELBO on (model, guide) equals the independently computed L_T + sum L_{t-1} + L_0."""
    model, x0 = small_ddpm
    with torch_seeded(0):
        loss = pyro.infer.TraceMeanField_ELBO().differentiable_loss(model.model, model.guide, x0)
    with torch_seeded(0):
        trace = pyro.poutine.trace(model.guide).get_trace(x0)
    reference = _independent_bound(model, x0, trace).sum()
    assert float(-loss.detach()) == pytest.approx(reference, rel=1e-9)


def test_random_t_loss_is_unbiased_for_the_bound(small_ddpm):
    """Mean of the random-t estimator = the bound (from bound_terms with many particles), within 4 standard
    errors of the two Monte Carlo averages."""
    model, x0 = small_ddpm
    rows = x0.repeat(4000, 1)
    with torch_seeded(1), torch.no_grad():
        estimates = model.random_t_loss(rows).reshape(4000, 3)
        # exact: every term's expectation with fresh x_t per t (bound_terms), averaged over 400 particles
        exact = -model.elbo(x0.repeat(400, 1)).reshape(400, 3)
    se = torch.sqrt(estimates.var(0) / 4000 + exact.var(0) / 400)
    diff = (estimates.mean(0) - exact.mean(0)).abs()
    assert bool((diff < 4 * se).all()), (diff, se)


def _gaussian_population_bound(model, m, s):
    """E_{x0 ~ N(m, s^2)} ELBO(x0) in closed form for the exact (linear) epsilon predictor: every term is the
    expectation of a Gaussian KL whose mean difference is affine in (x0, x_t), jointly Gaussian."""
    sch = model.schedule
    ab, b, a = sch.alpha_bars.numpy(), sch.betas.numpy(), sch.alphas.numpy()
    m, s2 = m.numpy().astype(float), s.numpy().astype(float) ** 2
    T = sch.num_time_steps

    def mean_square(c_x0, c_xt, c0, t):  # E (c_x0 x0 + c_xt x_t + c0)^2 with x_t = sqrt(ab_t) x0 + sqrt(1-ab_t) e
        mean = c_x0 * m + c_xt * math.sqrt(ab[t]) * m + c0
        var = c_x0 ** 2 * s2 + c_xt ** 2 * (ab[t] * s2 + 1 - ab[t]) + 2 * c_x0 * c_xt * math.sqrt(ab[t]) * s2
        return mean ** 2 + var

    def reverse_mean_coefficients(t):  # mu_theta(x_t) = d1 x_t + d0 (9.25) with eps* = k (x_t - sqrt(ab_t) m)
        k = math.sqrt(1 - ab[t]) / (ab[t] * s2 + 1 - ab[t])
        d1 = (1 - b[t] * k / math.sqrt(1 - ab[t])) / math.sqrt(a[t])
        d0 = b[t] * k * math.sqrt(ab[t]) * m / (math.sqrt(1 - ab[t]) * math.sqrt(a[t]))
        return d1, d0

    total = -0.5 * (1 - ab[T] + ab[T] * (m ** 2 + s2) - 1 - math.log(1 - ab[T])).sum()
    for t in range(2, T + 1):
        c1 = math.sqrt(ab[t - 1]) * b[t] / (1 - ab[t])
        c2 = math.sqrt(a[t]) * (1 - ab[t - 1]) / (1 - ab[t])
        d1, d0 = reverse_mean_coefficients(t)
        vq, vp = (1 - ab[t - 1]) / (1 - ab[t]) * b[t], float(model.reverse_variance(t))
        total -= (0.5 * (math.log(vp / vq) + (vq + mean_square(c1, c2 - d1, -d0, t)) / vp - 1)).sum()
    d1, d0 = reverse_mean_coefficients(1)
    v1 = float(model.reverse_variance(1))
    total += (-0.5 * math.log(2 * math.pi * v1) - mean_square(1.0, -d1, -d0, 1) / (2 * v1)).sum()
    return total


@pytest.mark.parametrize("variance", ["beta_tilde", "beta"])
def test_bound_of_the_optimal_gaussian_predictor_matches_closed_form(variance):
    """For N(m, s^2) data and its exact epsilon (T = 200, cosine), the Monte Carlo bound (bound_terms) and the
    random-t loss average to the closed-form E[ELBO], within 4 standard errors; the bound is below
    E[log N(x; m, s^2)] (the fixed variances make it loose: Nichol & Dhariwal learn them)."""
    schedule = cosine_schedule(200).double()
    model = gaussian_ddpm(M, S, schedule, variance=variance).double()
    reference = _gaussian_population_bound(model, M.double(), S.double())
    with torch_seeded(0), torch.no_grad():
        x = M.double() + S.double() * torch.randn(400, 2, dtype=torch.float64)
        bound = model.elbo(x)
        y = M.double() + S.double() * torch.randn(20000, 2, dtype=torch.float64)
        random_t = -model.random_t_loss(y)
    for values in (bound, random_t):
        assert abs(float(values.mean()) - reference) < 4 * float(values.std()) / math.sqrt(len(values))
    entropy = float(torch.distributions.Normal(M.double(), S.double()).entropy().sum())
    assert reference < -entropy


def test_discretised_gaussian_masses_sum_to_one_and_match_cdf():
    K = 5
    loc, scale = torch.tensor([0.1]), torch.tensor([0.4])
    levels = torch.linspace(-1, 1, K)
    d = DiscretisedGaussian(loc.expand(K, 1), scale.expand(K, 1), K)
    probs = d.log_prob(levels[:, None]).exp()
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)
    h = 1 / (K - 1)
    middle = stats.norm(0.1, 0.4).cdf(0.0 + h) - stats.norm(0.1, 0.4).cdf(0.0 - h)
    assert float(probs[2]) == pytest.approx(middle, rel=1e-6)
    assert float(bits_per_dim(torch.tensor(-math.log(2) * 64), 64)) == pytest.approx(1.0)


def test_grid_ddpm_bound_is_a_log_probability():
    """With the discretised decoder the bound is <= 0 nats per row (a log of a probability, up to MC noise)."""
    model = ddpm(4, num_time_steps=10, hidden_features=8, num_levels=17, seed=0).double()
    x = torch.tensor([[-1.0, 0.0, 0.5, 1.0]], dtype=torch.float64)
    with torch_seeded(0), torch.no_grad():
        terms = model.bound_terms(x, num_particles=50)
    assert float(terms["L_0"]) <= 0.0
    assert float(terms["L_T"]) <= 0.0 and bool((terms["L_t"] <= 0).all())


def test_errors():
    with pytest.raises(ValueError, match="prediction"):
        ddpm(2, prediction="noise")
    model = ddpm(2, num_time_steps=5, hidden_features=8)
    with pytest.raises(ValueError, match="num_classes"):
        model.loss((torch.zeros(3, 2), torch.zeros(3)))
