"""GANs and WGANs (course §6.3): D*, C(G) and JS (Prop. 6.1, Thm 6.1), the WGAN-GP optimum, mode metrics."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm
from torch import nn

from pgm_ppl.deep_latent import (GAN, critic_loss, dcgan, gan_criterion, gan_objective, gradient_penalty,
                                 grid_centres, mixture_samples, mlp_gan, mode_metrics, optimal_discriminator,
                                 ring_centres, value_function, wgan_critic_loss, wgan_gp_optimum_1d, wgan_objective)
from pgm_ppl.information import differential_entropy, js_divergence, js_divergence_quadrature
from pgm_ppl.nn import MLP
from pgm_ppl.ot import quantile_ot_cost
from pgm_ppl.training import train

torch.set_num_threads(1)


def test_js_divergence_is_scipy_squared_and_bounded():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6) * 0.3)
        assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-10)
        assert js_divergence(p, q, base=2) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-10)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(math.log(2), abs=1e-15)
    with pytest.raises(ValueError, match="same length"):
        js_divergence([0.5, 0.5], [1.0])


def test_optimal_discriminator_and_criterion_equal_minus_log4_plus_2js():
    p, q = norm(0.0, 1.0), norm(1.5, 0.7)
    # JS by a second route: H(m) - (H(p) + H(q)) / 2
    log_m = lambda x: np.logaddexp(p.logpdf(x), q.logpdf(x)) - math.log(2)  # noqa: E731
    js_entropy = differential_entropy(log_m) - 0.5 * (p.entropy() + q.entropy())
    js = js_divergence_quadrature(p.logpdf, q.logpdf)
    assert js == pytest.approx(js_entropy, abs=1e-8)
    assert gan_criterion(p.logpdf, q.logpdf) == pytest.approx(-math.log(4) + 2 * js, abs=1e-9)  # Thm 6.1
    assert gan_criterion(p.logpdf, p.logpdf) == pytest.approx(-math.log(4), abs=1e-10)
    x = np.linspace(-3, 4, 15)
    np.testing.assert_allclose(optimal_discriminator(p.logpdf, q.logpdf)(x), p.pdf(x) / (p.pdf(x) + q.pdf(x)),
                               rtol=1e-12)


def _fixed_generator(mean, sd):
    gen = nn.Linear(1, 1)
    with torch.no_grad():
        gen.weight.fill_(sd)
        gen.bias.fill_(mean)
    return gen.requires_grad_(False)


def test_trained_discriminator_approaches_d_star_and_value_c_of_g():
    p, q = norm(0.0, 1.0), norm(1.5, 0.7)
    torch.manual_seed(0)
    module = GAN(_fixed_generator(1.5, 0.7), MLP(1, 1, (32, 32), activation="tanh"), latent_features=1)
    X = np.random.default_rng(0).normal(0, 1, size=(8192, 1))
    train(module, X, loss=critic_loss, num_steps=400, batch_size=512, learning_rate=1e-2, lr_schedule="cosine",
          num_generated=0, seed=0)
    x = np.linspace(-1.5, 2.5, 41)
    with torch.no_grad():
        D = module.discriminator(torch.as_tensor(x[:, None], dtype=torch.float32)).numpy()
    d_star = optimal_discriminator(p.logpdf, q.logpdf)(x)
    assert np.max(np.abs(D - d_star)) < 0.05  # a 4,096-row logistic fit: error of a few hundredths
    torch.manual_seed(1)
    with torch.no_grad():
        V = value_function(module, torch.randn(200000, 1)).item()
    C = gan_criterion(p.logpdf, q.logpdf)
    assert C - 0.02 < V < C + 0.01  # V(G, D) <= C(G) up to Monte Carlo error (sd of V's mean ~ 0.003)


def test_wgan_gp_exact_optimum_tends_to_w1():
    w1 = quantile_ot_cost(norm(0, 1).ppf, norm(3, 0.3).ppf, p=1)  # pgm_ppl.ot's W1 between the two laws
    values = [wgan_gp_optimum_1d(0, 1, 3, 0.3, gradient_penalty_weight=lam) for lam in (1, 10, 100, 1e4)]
    assert values[0].w1 == pytest.approx(w1, abs=1e-5)  # quantile quadrature truncates the tails at ~1e-6
    gaps = [v.value - w1 for v in values]
    assert all(a > b > 0 for a, b in zip(gaps, gaps[1:]))  # decreasing to W1 ...
    assert gaps[-1] < 1e-4 * w1  # ... as 1 / lambda
    own = [v.value - v.w1 for v in values]
    assert own[1] * 10 == pytest.approx(own[2] * 100, rel=1e-6)  # exactly 1 / lambda
    assert all(v.critic_difference - v.w1 == pytest.approx(2 * (v.value - v.w1), rel=1e-9) for v in values)


def test_wgan_gp_critic_reaches_the_penalised_optimum_not_w1():
    exact = wgan_gp_optimum_1d(0, 1, 3, 0.3, gradient_penalty_weight=10.0)
    torch.manual_seed(0)
    module = GAN(_fixed_generator(3.0, 0.3), MLP(1, 1, (64, 64), activation="tanh"), latent_features=1)
    X = np.random.default_rng(0).normal(0, 1, size=(16384, 1))
    # in 1-D the penalty's two wells trap a wrongly signed slope (gan_theory docstring): set the sign first
    train(module, X, loss=lambda m, b: wgan_critic_loss(m, b, gradient_penalty_weight=0.1), num_steps=60,
          batch_size=512, learning_rate=3e-3, num_generated=0)
    train(module, X, loss=wgan_critic_loss, num_steps=400, batch_size=512, learning_rate=3e-3,
          lr_schedule="cosine", num_generated=0, seed=1)
    torch.manual_seed(2)
    x = torch.randn(200000, 1)
    with torch.no_grad():
        fake = module.sample(200000)
        difference = (module.score(x).mean() - module.score(fake).mean()).item()
    value = difference - 10.0 * gradient_penalty(module, x, fake).item()
    assert value == pytest.approx(exact.value, rel=0.01)  # the gap to W1 is 7.7% here
    assert difference == pytest.approx(exact.critic_difference, rel=0.01)
    assert abs(value - exact.w1) > 0.05 * exact.w1


def test_mode_metrics_ring_grid_and_collapse():
    ring = ring_centres(8)
    assert len(np.unique(np.round(ring, 9), axis=0)) == 8  # not linspace(0, 2 pi, 8)'s 7 modes
    assert np.allclose(np.linalg.norm(ring, axis=1), 2.0)
    grid = grid_centres(5)
    assert grid.shape == (25, 2) and grid.min() == -4 and grid.max() == 4
    good = mixture_samples(ring, 4000, sd=0.05, seed=0)
    m = mode_metrics(good, ring, sd=0.05)
    # P(|eps| < 3 sd) for a 2-D isotropic Gaussian is 1 - exp(-9/2)
    assert m.modes_covered == 8 and m.high_quality_fraction == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert m.mode_kl < 0.01
    collapsed = mixture_samples(ring[:1], 1000, sd=0.05, seed=1)
    c = mode_metrics(collapsed, ring, sd=0.05)
    assert c.modes_covered == 1 and c.mode_kl == pytest.approx(math.log(8))
    g = mode_metrics(mixture_samples(grid, 5000, sd=0.05, seed=2), grid, sd=0.05)
    assert g.modes_covered == 25


def test_gan_games_run_through_the_engine():
    X = mixture_samples(ring_centres(8), 1024, sd=0.05, seed=0)
    fit = train(mlp_gan(2, hidden_features=(32,), seed=0), X, loss=gan_objective(critic_steps=2), num_steps=20,
                batch_size=128, learning_rate=1e-3, num_generated=50)
    assert fit.objective == "two_player" and fit.step_stats["critic_loss"].shape == (20,)
    assert fit.posterior_predictive["x"].shape == (1, 50, 2)
    clipped = mlp_gan(2, hidden_features=(16,), seed=0)
    train(clipped, X, loss=wgan_objective(gradient_penalty_weight=None, clip_value=0.01), num_steps=5,
          batch_size=128, num_generated=0)
    wgan_critic_loss(clipped, torch.as_tensor(X[:8], dtype=torch.float32), gradient_penalty_weight=0,
                     clip_value=0.01)
    assert max(p.abs().max().item() for p in clipped.critic.parameters()) <= 0.01
    digits = (np.random.default_rng(0).random((256, 64)) > 0.5).astype(np.float32)
    fit = train(dcgan(latent_features=8, channels=(8, 16)), digits, loss=wgan_objective(), num_steps=3,
                batch_size=64, num_generated=4)
    sample = fit.posterior_predictive["x"]
    assert sample.shape == (1, 4, 64) and np.all((sample > 0) & (sample < 1))
    with pytest.raises(ValueError, match="gradient_penalty_weight"):
        wgan_objective(gradient_penalty_weight=None)
    with pytest.raises(ValueError, match="generator"):
        gan_objective(generator="wasserstein")
