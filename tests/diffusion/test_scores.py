"""Scores, Langevin and score matching (course rows 9.1-9.9): ULA's exact discretisation bias, MALA's exactness,
Hyvärinen's trace against the brute-force Jacobian, DSM's optimum = the noised Gaussian's score, NCSN."""

import math

import pytest
import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.diffusion import (annealed_langevin, denoising_score_matching, explicit_score_matching,
                               gaussian_noised_score, geometric_sigmas, implicit_score_matching, mala, ncsn,
                               ncsn_loss, score_of, sliced_score_matching, ula, ula_stationary_variance)
from pgm_ppl.nn import MLP


def test_score_by_autodiff_is_the_gaussian_score_and_ignores_the_constant():
    """Exercise 9.1: s(x) = -Sigma^{-1}(x - mu); an unnormalised density has the same score (Remark 9.2)."""
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    mu = torch.tensor([1.0, -1.0], dtype=torch.float64)
    p = torch.distributions.MultivariateNormal(mu, cov)
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = -(x - mu) @ torch.linalg.inv(cov)
    torch.testing.assert_close(score_of(p)(x), expected)
    torch.testing.assert_close(score_of(lambda z: p.log_prob(z) + 123.0)(x), expected)


def test_ula_has_the_exact_discretisation_bias_and_mala_removes_it():
    """On N(m, s^2), ULA's stationary variance is s^2 / (1 - eps / (4 s^2)) (here 4/3 s^2), MALA's s^2; both
    within 4 standard errors of 20,000 independent chains (var * sqrt(2/n))."""
    m, s, eps, n = 2.0, 1.0, 1.0, 20000
    target = torch.distributions.Normal(torch.tensor(m, dtype=torch.float64), torch.tensor(s, dtype=torch.float64))
    x0 = torch.zeros(n, 1, dtype=torch.float64)
    chains = ula(score_of(lambda x: target.log_prob(x).sum(-1)), x0, step_size=eps, num_steps=60, seed=0).samples
    expected = ula_stationary_variance(s, eps)
    assert expected == pytest.approx(4 / 3)
    assert abs(float(chains.var()) - expected) < 4 * expected * math.sqrt(2 / n)
    assert abs(float(chains.mean()) - m) < 4 * math.sqrt(expected / n)
    result = mala(lambda x: target.log_prob(x).sum(-1), x0, step_size=eps, num_steps=150, seed=1)
    assert abs(float(result.samples.var()) - s ** 2) < 4 * s ** 2 * math.sqrt(2 / n) * 1.5  # mild autocorrelation
    assert 0.5 < result.acceptance_rate < 1.0
    with pytest.raises(ValueError, match="step_size"):
        ula_stationary_variance(1.0, 4.0)


@pytest.fixture(scope="module")
def net():
    with torch_seeded(0):
        return MLP(3, 3, (16,), "tanh").double()


def test_implicit_score_matching_trace_matches_brute_force_jacobian(net):
    x = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    jac = torch.stack([torch.autograd.functional.jacobian(net, row) for row in x])
    reference = (jac.diagonal(dim1=-2, dim2=-1).sum(-1) + 0.5 * (net(x) ** 2).sum(-1)).mean().detach()
    torch.testing.assert_close(implicit_score_matching(net, x), reference)
    # Hutchinson and sliced: unbiased (average of many estimates, 4 standard errors)
    with torch_seeded(2):
        hutch = torch.stack([implicit_score_matching(net, x, trace="hutchinson").detach() for _ in range(400)])
        sliced = torch.stack([sliced_score_matching(net, x).detach() for _ in range(400)])
    for draws in (hutch, sliced):
        assert abs(float(draws.mean() - reference)) < 4 * float(draws.std()) / 20


def test_implicit_equals_explicit_up_to_a_constant_for_gaussian_models():
    """Hyvarinen's theorem on N(0, I) data and the model s(x) = -(x - mu)/v: ISM(theta) - ESM(theta) is the
    same for two parameter values (within Monte Carlo error of 20,000 points)."""
    x = torch.randn(20000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    diffs = []
    for mu, v in ((0.3, 0.5), (-1.0, 2.0)):
        model = lambda z, mu=mu, v=v: -(z - mu) / v  # noqa: E731
        diffs.append(float((implicit_score_matching(model, x) - explicit_score_matching(model, x, -x)).detach()))
    # Monte Carlo error: ||x||^2 / 2 has sd 1 for d = 2, so the constant's s.e. over 20,000 points is 0.007 and
    # 0.05 is ~7 s.e.; a wrong divergence term would miss by O(1 / v) = 0.5-2
    assert diffs[0] == pytest.approx(diffs[1], abs=0.05)
    assert diffs[0] == pytest.approx(-1.0, abs=0.05)  # -E||x||^2 / 2 = -d / 2


def test_denoising_score_matching_optimum_is_the_noised_gaussian_score():
    """Minimise DSM over linear scores s(x) = a x + b on N(m, s^2) data: the minimiser is -(x - m)/(s^2 + sigma^2)
    (Exercise 9.5 + Gaussian convolution), within Monte Carlo error."""
    m, s, sigma, n = 1.5, 0.8, 0.6, 40000
    x = m + s * torch.randn(n, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([params], max_iter=200, tolerance_grad=1e-12, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        with torch_seeded(5):  # the same noise at every evaluation: a deterministic objective
            loss = denoising_score_matching(lambda z: params[0] * z + params[1], x, sigma)
        loss.backward()
        return loss

    optimizer.step(closure)
    a, b = params.detach().tolist()
    truth = gaussian_noised_score(torch.tensor([[0.0], [1.0]], dtype=torch.float64), m, s, sigma)
    assert b == pytest.approx(float(truth[0]), abs=0.03)
    assert a == pytest.approx(float(truth[1] - truth[0]), abs=0.03)


def test_ncsn_levels_loss_and_annealed_langevin_with_the_true_score():
    """Geometric levels (9.7); the NCSN loss at the true noised score is below the loss of a zero score;
    annealed Langevin (Alg. 8) with the exact noised scores of N(m, s^2) ends at the last level's law
    N(m, s^2 + sigma_L^2), up to ULA's exact bias at step alpha_L = eps (levels and steps chosen so every level
    mixes: alpha_i = eps sigma_i^2 / sigma_L^2 relaxes in ~2 (s^2 + sigma_i^2)/alpha_i < 60 steps)."""
    sigmas = geometric_sigmas(10.0, 0.1, 8)
    assert sigmas[0] == pytest.approx(10.0) and sigmas[-1] == pytest.approx(0.1)
    ratios = sigmas[1:] / sigmas[:-1]
    torch.testing.assert_close(ratios, ratios[:1].expand(7))
    m, s = torch.tensor([1.0, -2.0], dtype=torch.float64), torch.tensor([0.5, 1.0], dtype=torch.float64)
    true_score = lambda x, sigma: gaussian_noised_score(x, m, s, sigma)  # noqa: E731
    x = annealed_langevin(true_score, sigmas, 4000, 2, step_size=0.01, steps_per_level=200,
                          dtype=torch.float64, seed=0)
    last = torch.tensor([ula_stationary_variance(float((v + 0.01) ** 0.5), 0.01) for v in s ** 2]).sqrt()
    assert bool(((x.mean(0) - m).abs() < 4 * last / math.sqrt(4000)).all())
    assert bool(((x.std(0) - last).abs() < 4 * last / math.sqrt(8000)).all()), (x.std(0), last)
    with torch_seeded(1):
        data = m + s * torch.randn(2000, 2, dtype=torch.float64)
        assert float(ncsn_loss(true_score, data, sigmas)) < float(ncsn_loss(lambda z, sg: 0 * z, data, sigmas))


def test_ncsn_module_trains_by_the_engine():
    from pgm_ppl.training import train

    model = ncsn(2, num_levels=5, sigma_max=3.0, sigma_min=0.05, hidden_features=16, steps_per_level=5)
    data = torch.randn(256, 2).numpy()
    fit = train(model, data, num_steps=30, batch_size=64, num_generated=10)
    assert fit.objective == "regression" and len(fit.losses) == 30
    assert model.sample(4).shape == (4, 2)
