"""The forward process (course rows 9.10-9.14, 9.20): q(x_t | x_0) against the simulated chain, the posterior
against Bayes' rule on Gaussians, the parameterisation converters round trip."""

import math

import numpy as np
import pytest
import torch

from pgm_ppl.diffusion import PREDICTIONS, convert_prediction, cosine_schedule, linear_schedule


@pytest.mark.parametrize("make", [linear_schedule, cosine_schedule])
def test_marginal_equals_simulated_chain(make):
    """Run the one-step chain (9.10) for t steps and compare mean and variance with (9.12): 4 standard errors."""
    schedule = make(50).double()
    n, t = 40000, 30
    x0 = torch.full((n, 1), 1.5, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    x = x0
    for step in range(1, t + 1):
        x = schedule.forward_step(x, step, torch.randn(x.shape, generator=generator, dtype=torch.float64))
    mean, std = schedule.marginal(x0[:1], t)
    var = float(std) ** 2
    assert abs(float(x.mean()) - float(mean)) < 4 * math.sqrt(var / n)
    assert abs(float(x.var()) - var) < 4 * var * math.sqrt(2 / n)


def test_linear_schedule_values_and_erratum_variance():
    """Ho et al.'s endpoints, alpha_bar as the product (Exercise 9.7); the step variance is beta_t (not beta)."""
    s = linear_schedule(1000)
    assert float(s.betas[1]) == pytest.approx(1e-4) and float(s.betas[-1]) == pytest.approx(0.02)
    assert float(s.alpha_bars[10]) == pytest.approx(float(torch.prod(1 - s.betas[1:11])), rel=1e-12)
    x = torch.zeros(1, 1, dtype=torch.float64)
    step = s.forward_step(x, 500, torch.ones(1, 1, dtype=torch.float64))
    assert float(step) == pytest.approx(math.sqrt(float(s.betas[500])))
    c = cosine_schedule(100)
    # thresholds, not tolerances: the cosine schedule ends at (numerically) pure noise and Nichol & Dhariwal clip
    # beta_t at 0.999
    assert float(c.alpha_bars[-1]) < 1e-6 and float(c.betas.max()) <= 0.999


def test_posterior_is_bayes_rule():
    """q(x_{t-1} | x_t, x_0) from joint-Gaussian conditioning of (x_{t-1}, x_t) given x_0 (9.17)-(9.20)."""
    s = cosine_schedule(20).double()
    rng = np.random.default_rng(0)
    for t in (2, 7, 20):
        ab, ab_prev, a = (float(s.alpha_bars[t]), float(s.alpha_bars[t - 1]), float(s.alphas[t]))
        x0, xt = rng.normal(size=3), rng.normal(size=3)
        # joint of (x_{t-1}, x_t) | x_0: means sqrt(ab_prev) x0, sqrt(ab) x0; cov [[1-ab_prev, sqrt(a)(1-ab_prev)],
        # [., 1-ab]]; condition on x_t.
        c11, c12, c22 = 1 - ab_prev, math.sqrt(a) * (1 - ab_prev), 1 - ab
        mean_ref = math.sqrt(ab_prev) * x0 + c12 / c22 * (xt - math.sqrt(ab) * x0)
        var_ref = c11 - c12 ** 2 / c22
        mean, var = s.posterior(torch.tensor(xt)[None], torch.tensor(x0)[None], torch.tensor([t]))
        np.testing.assert_allclose(mean[0].numpy(), mean_ref, rtol=1e-10, atol=1e-12)
        assert float(var.reshape(-1)[0]) == pytest.approx(var_ref, rel=1e-10)
        assert float(s.posterior_variance(t)) == pytest.approx(var_ref, rel=1e-10)


def test_conversions_round_trip_and_agree():
    """Every pair of parameterisations round-trips; each conversion of the true noise is the true quantity."""
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    eps = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    a = torch.rand(6, 1, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    truth = {"epsilon": eps, "x0": x0, "v": a.sqrt() * eps - (1 - a).sqrt() * x0,
             "score": -(xt - a.sqrt() * x0) / (1 - a)}
    for source in PREDICTIONS:
        for target in PREDICTIONS:
            out = convert_prediction(truth[source], source=source, target=target, x_t=xt, alpha_bar=a)
            torch.testing.assert_close(out, truth[target], rtol=1e-10, atol=1e-10)


def test_continuous_view_matches_steps_and_inverts():
    s = linear_schedule(100).double()
    steps = torch.arange(0, 101, dtype=torch.float64)
    torch.testing.assert_close(s.continuous_log_alpha_bar(steps), torch.log(s.alpha_bars))
    tau = torch.tensor([0.0, 0.3, 17.5, 99.9])
    torch.testing.assert_close(s.time_of_log_alpha_bar(s.continuous_log_alpha_bar(tau)), tau.double())


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_time_steps"):
        linear_schedule(0)
    with pytest.raises(ValueError, match="source"):
        convert_prediction(torch.zeros(1, 1), source="eps", target="x0", x_t=torch.zeros(1, 1), alpha_bar=0.5)
