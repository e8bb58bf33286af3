"""The key check of the chapter (course rows 9.17-9.19): fed the exact (linear) epsilon of N(m, s^2) data, every
sampler returns N(m, s^2) (moments within Monte Carlo error) and the probability-flow ODE's log-likelihood is the
analytic density."""

import math

import pytest
import torch

from pgm_ppl.diffusion import (ancestral_sample, cosine_schedule, ddim_sample, ddim_timesteps, ddpm, gaussian_ddpm,
                               linear_schedule, probability_flow, reverse_sde_sample)

M, S = torch.tensor([1.0, -0.5], dtype=torch.float64), torch.tensor([0.5, 2.0], dtype=torch.float64)
N = 2000
# Discretisation bias of each sampler at T = 1000 (cosine) with the exact predictor, computed by propagating the
# affine-Gaussian recursion exactly: below 0.25% of s for the standard deviation, 0.01% for the mean. It is far
# below the 4-standard-error band used here (4 s / sqrt(2N) = 6.3% of s).
BIAS = 0.003


@pytest.fixture(scope="module")
def gaussian_model():
    return gaussian_ddpm(M, S, cosine_schedule(1000).double()).double()


def _assert_gaussian(x, mean=M, scale=S):
    n = x.shape[0]
    x = x.double()
    assert bool(((x.mean(0) - mean).abs() < 4 * scale / math.sqrt(n)).all()), x.mean(0)
    assert bool(((x.std(0) - scale).abs() < 4 * scale / math.sqrt(2 * n) + BIAS * scale).all()), x.std(0)


def test_ancestral_sampler_returns_the_data_law(gaussian_model):
    _assert_gaussian(ancestral_sample(gaussian_model, N, seed=0))


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_all_steps_returns_the_data_law(gaussian_model, eta):
    _assert_gaussian(ddim_sample(gaussian_model, N, num_time_steps=1000, eta=eta, seed=1))


def test_ddim_is_deterministic_and_affine_for_gaussian_data(gaussian_model):
    """eta = 0: no randomness (same x_T, same output); the 50-step map is affine, its law N(b, a^2) within the
    DDIM discretisation error of 50 steps (5% of s here)."""
    x_T = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    first = ddim_sample(gaussian_model, 3, num_time_steps=50, x_T=x_T, seed=0)
    second = ddim_sample(gaussian_model, 3, num_time_steps=50, x_T=x_T, seed=1)
    torch.testing.assert_close(first, second)
    zero = ddim_sample(gaussian_model, 1, num_time_steps=50, x_T=torch.zeros(1, 2, dtype=torch.float64))[0]
    one = ddim_sample(gaussian_model, 1, num_time_steps=50, x_T=torch.ones(1, 2, dtype=torch.float64))[0]
    torch.testing.assert_close(zero + (one - zero) * x_T, first)
    # the docstring's bound: the affine map's slope is S up to 50-step DDIM's discretisation error (5% of S)
    assert bool(((zero - M).abs() < 1e-3).all()) and bool((((one - zero) - S).abs() < 0.05 * S).all())


def test_reverse_sde_euler_maruyama_and_predictor_corrector(gaussian_model):
    sde = gaussian_model.sde
    _assert_gaussian(reverse_sde_sample(gaussian_model.score, sde, N, 2, num_time_steps=1000, dtype=torch.float64,
                                        seed=2))
    x = reverse_sde_sample(gaussian_model.score, sde, N, 2, num_time_steps=200, corrector_steps=1,
                           dtype=torch.float64, seed=3)
    _assert_gaussian(x)


def test_probability_flow_log_likelihood_is_the_analytic_density(gaussian_model):
    """log p(x) by the PF-ODE equals log N(x; m, s^2) (cosine: alpha_bar_T ~ 2e-9, so the N(0, I) prior is the
    exact q_T to 1e-4); samples of the ODE have the data law."""
    x = torch.tensor([[1.0, 0.0], [0.2, 3.0], [2.0, -4.0], [1.4, -0.6]], dtype=torch.float64)
    flow = probability_flow(gaussian_model, atol=1e-7, rtol=1e-7)
    log_p = flow.log_prob(x).detach()
    reference = torch.distributions.Normal(M, S).log_prob(x).sum(-1)
    torch.testing.assert_close(log_p, reference, atol=5e-4, rtol=0)
    assert flow.log_prob_kind == "exact"
    _assert_gaussian(probability_flow(gaussian_model).sample(N))


def test_probability_flow_matches_pushforward_with_linear_schedule():
    """With the linear schedule alpha_bar_T ~ 4e-5 and the model's law is the affine pushforward of N(0, I)
    through the exact ODE: its density, in closed form, equals the ODE's log-likelihood."""
    schedule = linear_schedule(1000).double()
    model = gaussian_ddpm(M, S, schedule).double()
    x = torch.tensor([[1.0, 0.0], [0.2, 3.0]], dtype=torch.float64)
    a_T = float(schedule.alpha_bars[-1])
    v_T = a_T * S ** 2 + 1 - a_T
    x_T = math.sqrt(a_T) * M + v_T.sqrt() * (x - M) / S
    exact = (torch.distributions.Normal(0.0, 1.0).log_prob(x_T) + 0.5 * torch.log(v_T) - torch.log(S)).sum(-1)
    torch.testing.assert_close(probability_flow(model, atol=1e-7, rtol=1e-7).log_prob(x).detach(), exact, atol=2e-4,
                               rtol=0)
    torch.testing.assert_close(model.log_prob(x).detach(), exact, atol=2e-3, rtol=0)  # default tolerance 1e-5


def test_timestep_spacings():
    assert ddim_timesteps(4, 1000).tolist() == [1000, 667, 334, 1]
    assert ddim_timesteps(4, 1000, "trailing").tolist() == [1000, 750, 500, 250]
    assert ddim_timesteps(4, 1000, "leading").tolist() == [751, 501, 251, 1]
    quadratic = ddim_timesteps(10, 1000, "quadratic")
    assert quadratic[0] == 1000 and quadratic[-1] == 1 and bool((quadratic.diff() < 0).all())
    assert ddim_timesteps(1000, 1000).tolist() == list(range(1000, 0, -1))
    with pytest.raises(ValueError, match="spacing"):
        ddim_timesteps(4, 1000, "uniform")
    with pytest.raises(ValueError, match="num_time_steps"):
        ddim_timesteps(2000, 1000)


def test_ddim_does_not_clip_unless_asked():
    """x0-hat is not clipped by default: data far outside [-1, 1] is reproduced (diffusers clips by default)."""
    model = gaussian_ddpm(torch.tensor([5.0], dtype=torch.float64), torch.tensor([0.1], dtype=torch.float64),
                          cosine_schedule(100).double()).double()
    x = ddim_sample(model, 200, num_time_steps=20, seed=0)
    # 200 draws of sd 0.1: s.e. 0.007, so 0.05 is ~7 s.e.; clipping to [-1, 1] would put the mean 4 away
    assert abs(float(x.mean()) - 5.0) < 0.05
    clipped = ddim_sample(model, 200, num_time_steps=20, clip=(-1.0, 1.0), seed=0)
    assert float(clipped.max()) <= 1.0 + 1e-9


def test_trained_model_samplers_and_hutchinson_kind():
    """Shapes, the trajectory, and the likelihood kind switching to 'estimate' above 8 features."""
    model = ddpm(2, num_time_steps=20, hidden_features=8, seed=0)
    x, path = ancestral_sample(model, 5, return_trajectory=True, seed=0)
    assert x.shape == (5, 2) and path.shape == (21, 5, 2)
    x, path = ddim_sample(model, 5, num_time_steps=4, return_trajectory=True, seed=0)
    assert path.shape == (5, 5, 2)
    assert model.log_prob_kind == "exact" and ddpm(10, num_time_steps=5, hidden_features=8).log_prob_kind == "estimate"


@pytest.mark.parametrize("make", ["vp", "ve"])
def test_continuous_sdes_marginals_and_reverse_sampling(make):
    """VP/VE SDEs (Song et al. 2021b): the closed-form marginal std of p_t(x_t | x_0) equals a forward
    Euler-Maruyama simulation; the reverse SDE with the exact score of N(m, s^2) data returns N(m, s^2)."""
    from pgm_ppl.diffusion import VESDE, VPSDE

    sde = VPSDE() if make == "vp" else VESDE(sigma_min=0.01, sigma_max=20.0)
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(N, 1, dtype=torch.float64)
    times = torch.linspace(0.0, 1.0, 501, dtype=torch.float64)
    for t, t_next in zip(times[:-1], times[1:]):
        dt = float(t_next - t)
        x = x + sde.drift(x, t) * dt + sde.diffusion(t) * math.sqrt(dt) * torch.randn(x.shape, generator=gen,
                                                                                    dtype=torch.float64)
    _, std = sde.marginal(torch.tensor(1.0, dtype=torch.float64))
    if make == "ve":  # from sigma(0) = sigma_min the added variance is sigma(1)^2 - sigma_min^2
        std = (std ** 2 - sde.sigma_min ** 2).sqrt()
    assert abs(float(x.std()) - float(std)) < 4 * float(std) / math.sqrt(2 * N)

    def score(z, t):
        mean_coef, sd = sde.marginal(t)
        return -(z - mean_coef * M) / (mean_coef ** 2 * S ** 2 + sd ** 2)

    draws = reverse_sde_sample(score, sde, N, 2, num_time_steps=500, dtype=torch.float64, seed=4)
    _assert_gaussian(draws)  # the VE run stops at sigma(t_min) = 0.01: variance s^2 + 1e-4, within the band


def test_probability_flow_hutchinson_likelihood_is_unbiased_in_ten_dimensions():
    """Above 8 features the PF-ODE likelihood uses Hutchinson's trace (kind 'estimate'): with Gaussian probes
    (Rademacher ones are exact for this diagonal Jacobian), averaged over 200 independent probes (rows repeated),
    it equals the analytic N(m, s^2) log-density within 4 standard errors (+ 1e-3 of solver error)."""
    d = 10
    mean = torch.linspace(-1.0, 1.0, d, dtype=torch.float64)
    scale = torch.linspace(0.5, 1.5, d, dtype=torch.float64)
    model = gaussian_ddpm(mean, scale, cosine_schedule(200).double()).double()
    assert model.log_prob_kind == "estimate"
    point = (mean + 0.3 * scale)[None]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        estimates = probability_flow(model, probe="gaussian").log_prob(point.repeat(200, 1)).detach()
    reference = float(torch.distributions.Normal(mean, scale).log_prob(point).sum())
    assert float(estimates.std()) > 0.01  # a genuine estimate
    assert abs(float(estimates.mean()) - reference) < 4 * float(estimates.std()) / math.sqrt(200) + 1e-3


@pytest.mark.parametrize("prediction", ["x0", "v", "score"])
def test_other_parameterisations_give_the_same_model(prediction):
    """A network predicting x0, v or the score (the exact epsilon converted) defines the same DDPM: DDIM from the same
    noise and the bound (same random draws) agree with the epsilon model's."""
    from pgm_ppl.diffusion import DDPM, GaussianEpsilon, convert_prediction

    schedule = cosine_schedule(50).double()
    eps_net = GaussianEpsilon(M, S, schedule)

    class Converted(torch.nn.Module):
        features = 2

        def forward(self, x, t):
            a = torch.exp(schedule.continuous_log_alpha_bar(t))[:, None]
            return convert_prediction(eps_net(x, t), source="epsilon", target=prediction, x_t=x, alpha_bar=a)

    reference = DDPM(eps_net, schedule).double()
    other = DDPM(Converted(), schedule, prediction=prediction).double()
    x_T = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ddim_sample(other, 50, num_time_steps=10, x_T=x_T),
                               ddim_sample(reference, 50, num_time_steps=10, x_T=x_T))
    x0 = M + S * x_T
    with torch.random.fork_rng():
        torch.manual_seed(1)
        a = reference.elbo(x0)
        torch.manual_seed(1)
        b = other.elbo(x0)
    torch.testing.assert_close(a, b)
