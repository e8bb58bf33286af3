"""Learned flows on zuko and Pyro (course rows 8.7-8.8): exact inverses, log-determinants against autograd, zuko's
own density, the density's integral on a grid, maximum likelihood through the training engine (Gaussian moments;
test NLL minus the mixture's entropy), conditional flows, and the flow in ArviZ and the held-out comparison."""

import re

import numpy as np
import pytest
import torch
import zuko
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from pgm_ppl.diagnostics import compare_heldout, to_inference_data
from pgm_ppl.em import fit_gmm
from pgm_ppl.em.density import GaussianMixtureDensity
from pgm_ppl.flows import FlowModel, iaf, maf, nsf, planar, radial, realnvp
from pgm_ppl.training import train

torch.set_num_threads(1)
DT = torch.float64

FACTORIES = {"realnvp": realnvp, "maf": maf, "iaf": iaf, "nsf": nsf,
             "nsf_coupling": lambda d, **kw: nsf(d, passes=2, **kw)}


def _perturbed(flow, seed=0):
    """Random weights everywhere (zuko initialises the last layers near the identity map)."""
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return flow.to(DT)


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("context_features", [0, 2])
def test_inverse_of_forward_is_the_identity(name, context_features):
    flow = _perturbed(FACTORIES[name](3, context_features=context_features, hidden_features=16))
    generator = torch.Generator().manual_seed(1)
    u = torch.randn(64, 3, generator=generator, dtype=DT) * 2
    context = torch.randn(64, context_features, generator=generator, dtype=DT) if context_features else None
    T = flow.transform(context)
    x = T(u)
    assert torch.max(torch.abs(T.inv(x.clone()) - u)) < 1e-6  # clone: a fresh tensor, no remembered pass
    assert torch.max(torch.abs(T(T.inv(x.clone())) - x)) < 1e-6


@pytest.mark.parametrize("name", ["maf", "nsf", "realnvp"])
def test_log_determinant_against_the_autograd_jacobian_and_zukos_density(name):
    flow = _perturbed(FACTORIES[name](3, hidden_features=16))
    u = torch.randn(4, 3, generator=torch.Generator().manual_seed(2), dtype=DT)
    T = flow.transform()
    for row in u:
        J = torch.autograd.functional.jacobian(lambda v: T(v[None])[0], row)
        x = T(row[None].clone())
        np.testing.assert_allclose(T.log_abs_det_jacobian(row[None], x).item(), torch.linalg.slogdet(J)[1].item(),
                                   atol=1e-9)
    x = T(u).detach()
    zuko_flow = zuko.flows.Flow(flow.transforms[0].lazy, zuko.flows.UnconditionalDistribution(
        zuko.distributions.DiagNormal, torch.zeros(3, dtype=DT), torch.ones(3, dtype=DT), buffer=True))
    np.testing.assert_allclose(flow.log_prob(x).detach().numpy(), zuko_flow().log_prob(x).detach().numpy(),
                               atol=1e-12)


@pytest.mark.parametrize("factory", [planar, radial])
def test_planar_and_radial_score_their_own_samples_by_the_forward_log_determinant(factory):
    flow = factory(2, transforms=3).to(DT)
    distribution = flow.distribution()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x = distribution.rsample((5,))
    log_prob = distribution.log_prob(x)  # Pyro's planar/radial caches hold the last pass only
    # the cached pass gives log p_u(u) - sum log|det| (8.3); compare with the layer-by-layer sum
    from pgm_ppl.flows import log_density_forward
    with torch.random.fork_rng():
        torch.manual_seed(0)
        u = flow.base().sample((5,))
    x_again, reference = log_density_forward(flow.base(), list(flow.transforms), u)
    np.testing.assert_allclose(x_again.detach().numpy(), x.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(log_prob.detach().numpy(), reference.detach().numpy(), atol=1e-12)


# --- maximum likelihood on a four-component mixture (entropy by Monte Carlo on 200,000 draws) ----------------
MEANS = torch.tensor([[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]], dtype=DT)
MIXTURE = MixtureSameFamily(Categorical(torch.ones(4, dtype=DT)),
                            MultivariateNormal(MEANS, 0.25 * torch.eye(2, dtype=DT).expand(4, 2, 2)))


@pytest.fixture(scope="module")
def mixture_fit():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        X, X_test, big = MIXTURE.sample((4000,)), MIXTURE.sample((4000,)), MIXTURE.sample((200000,))
    flow = nsf(2, transforms=2, hidden_features=24)
    fit = train(flow, X.numpy(), num_steps=200, batch_size=256, learning_rate=5e-3, lr_schedule="cosine", seed=0,
                validation_data=X_test.numpy(), validate_every=200, num_generated=200, progress_bar=False)
    entropy = -MIXTURE.log_prob(big)
    return flow, fit, X.numpy(), X_test.numpy(), entropy


def test_mixture_test_nll_is_within_005_nats_of_the_entropy(mixture_fit):
    flow, _, _, X_test, entropy = mixture_fit
    with torch.no_grad():
        log_q = flow.log_prob(torch.as_tensor(X_test, dtype=torch.float32)).double()
    log_p = MIXTURE.log_prob(torch.as_tensor(X_test))
    # test NLL - H = KL(p || q) + (sample noise of both means); the KL estimate mean(log p - log q) has a
    # standard error sd(log p - log q)/sqrt(n), and H's Monte Carlo error is below 0.003 nats.
    kl = (log_p - log_q).mean().item()
    se = (log_p - log_q).std().item() / np.sqrt(len(X_test))
    nll_minus_h = -log_q.mean().item() - entropy.mean().item()
    assert kl + 3 * se < 0.05
    assert nll_minus_h < 0.05 + 3 * (log_p.std().item() / np.sqrt(len(X_test)))


def test_the_learned_density_integrates_to_one_on_a_grid(mixture_fit):
    flow = mixture_fit[0]

    def integral(num):  # midpoint rule on [-6, 6]^2; the mixture's mass outside is < 1e-12
        edges = np.linspace(-6, 6, num + 1)
        mid = (edges[1:] + edges[:-1]) / 2
        grid = torch.as_tensor(np.stack(np.meshgrid(mid, mid), -1).reshape(-1, 2), dtype=torch.float32)
        with torch.no_grad():
            return float(flow.log_prob(grid).double().exp().sum()) * (12 / num) ** 2

    coarse, fine = integral(150), integral(300)
    # midpoint error is O(h^2): the fine grid's error is about (coarse - fine) / 3; the learned density's own
    # mass beyond the box is bounded by that of its tails, which follow the data (checked by the fit's NLL).
    assert abs(fine - coarse) < 3e-3
    assert abs(fine - 1.0) < 0.01 + abs(fine - coarse)


def test_a_trained_flow_converts_to_arviz_and_enters_the_heldout_comparison(mixture_fit):
    _, fit, X, X_test, _ = mixture_fit
    idata = to_inference_data(fit)
    assert idata.log_likelihood["x"].shape == (1, 1, len(X_test))
    assert idata.posterior_predictive["x"].shape[-1] == 2
    gaussian = GaussianMixtureDensity(fit_gmm(X, 1).params)
    table = compare_heldout({"nsf": fit, "gaussian": gaussian}, X_test)
    assert table.index[0] == "nsf" and table.loc["nsf", "kind"] == "exact"
    # the elpd is the flow's exact log-likelihood summed over the held-out rows
    total = float(np.sum(fit.density.log_prob(X_test)))
    np.testing.assert_allclose(table.loc["nsf", "elpd"], total, rtol=1e-6)


def test_gaussian_mle_recovers_the_sample_mean_and_covariance():
    # A one-layer MAF with affine autoregressive layers contains every Gaussian; its MLE on Gaussian data matches
    # the sample moments. Tolerance: 5 Monte Carlo standard errors of the 40,000 flow draws, plus one standard
    # error of the 1,000 data rows (the flexible family can bend towards the sample's own fluctuations).
    rng = np.random.default_rng(0)
    S = np.array([[1.0, 0.8], [0.8, 2.0]])
    X = rng.multivariate_normal([1.0, -2.0], S, size=1000)
    flow = maf(2, transforms=1, hidden_features=8)
    train(flow, X, num_steps=250, batch_size=1000, learning_rate=3e-2, seed=0, num_generated=0,
          progress_bar=False, dtype=DT)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        draws = flow.sample(40000).numpy()
    mean, cov = X.mean(0), np.cov(X.T, bias=True)
    se_mean = np.sqrt(np.diag(cov) / 40000) * 5 + np.sqrt(np.diag(cov) / 1000)
    assert np.all(np.abs(draws.mean(0) - mean) < se_mean)
    se_cov = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))))
    assert np.all(np.abs(np.cov(draws.T) - cov) < se_cov * (5 / np.sqrt(40000) + 1 / np.sqrt(1000)))


def test_a_conditional_flow_learns_a_label_dependent_law():
    # x1 | y ~ N(3 y - 1.5, 0.5^2), x2 ~ N(0, 1), labels y in {0, 1}, trained on data=(X, y) through the engine:
    # the draws per label have the right mean (5 standard errors plus 0.05 of fitting error) and sd; the engine's
    # generated samples (contexts resampled from the last batch) follow the marginal, mean 0 (2,000 draws).
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=2000).astype(np.float64)
    x = np.stack([rng.normal(3 * y - 1.5, 0.5), rng.normal(size=2000)], 1)
    flow = maf(2, transforms=2, hidden_features=16, context_features=1)
    fit = train(flow, (x, y[:, None]), num_steps=200, batch_size=500, learning_rate=1e-2, seed=0,
                num_generated=2000, progress_bar=False, dtype=DT)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for label in (0.0, 1.0):
            draws = flow.sample(4000, torch.full((4000, 1), label, dtype=DT)).numpy()
            assert abs(draws[:, 0].mean() - (3 * label - 1.5)) < 5 * 0.5 / np.sqrt(4000) + 0.05
            # the sd of 4000 draws has s.e. 0.5 / sqrt(8000) = 0.006: 0.05 is the same fitting allowance as the mean's
            assert abs(draws[:, 0].std() - 0.5) < 0.05
    generated = np.asarray(fit.posterior_predictive["x"]).reshape(-1, 2)
    assert abs(generated[:, 0].mean() - x[:, 0].mean()) < 5 * x[:, 0].std() / np.sqrt(2000)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=re.escape("features: expected an integer >= 2, got 1.")):
        realnvp(1)
    with pytest.raises(ValueError, match=re.escape("context: expected a tensor of shape (n, 2) for this "
                                                   "conditional flow, got None; pass data=(X, context).")):
        maf(3, context_features=2).log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=re.escape("features: expected the dimension d of x")):
        FlowModel([])
