"""Held-out density of ``fit`` results: the posterior predictive against the conjugate closed form."""

import re

import arviz as az
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from pgm_ppl import dist, fit, pyro
from pgm_ppl.core.result import Density
from pgm_ppl.inference.heldout import PosteriorPredictiveDensity

SIGMA, M0, S0 = 1.5, 0.0, 2.0  # known noise sd, prior mean and prior sd of mu
rng = np.random.default_rng(1)
Y = rng.normal(1.0, SIGMA, size=20)
Y_TEST = np.concatenate([rng.normal(1.0, SIGMA, size=12), [-4.0, 6.0]])  # two points in the tails
DRAWS = {"numpyro": dict(num_samples=500, num_warmup=300), "pyro": dict(num_samples=150, num_warmup=150)}
QUICK = dict(num_chains=2, progress_bar=False, num_prior_samples=0, predictive=False, log_likelihood=False)


def normal_mean(y):
    mu = pyro.sample("mu", dist.Normal(M0, S0))
    with pyro.plate("data", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, SIGMA), obs=y)


def conjugate_predictive(y):
    """Posterior of mu and posterior predictive of a new y (Normal-Normal conjugacy, known sigma)."""
    s2 = 1.0 / (1.0 / S0**2 + len(y) / SIGMA**2)
    mu_n = s2 * (M0 / S0**2 + y.sum() / SIGMA**2)
    return mu_n, s2


@pytest.fixture(scope="module", params=["numpyro", "pyro"])
def normal_fit(request):
    return fit(normal_mean, Y, backend=request.param, seed=3, **DRAWS[request.param], **QUICK)


def test_fit_carries_a_posterior_predictive_density(normal_fit):
    assert isinstance(normal_fit.density, PosteriorPredictiveDensity)
    assert isinstance(normal_fit.density, Density)
    assert normal_fit.density.kind == "posterior_predictive"
    assert normal_fit.density.num_draws == normal_fit.num_chains * normal_fit.num_draws
    assert normal_fit.density.event_shape == ()


def test_heldout_log_prob_matches_the_conjugate_posterior_predictive(normal_fit):
    """log mean_s N(x; mu_s, sigma^2) -> log N(x; mu_n, sigma^2 + s_n^2) as S grows.

    Tolerance: by the delta method, sd(log p_hat(x)) = sd_s p(x | mu_s) / (mean_s p(x | mu_s) sqrt(ESS)), with
    the ESS of p(x | mu_s) over the chains (ArviZ); we allow 4 of those per point, and compare the exact
    value also with the logsumexp of the same draws (the implementation's arithmetic, to 1e-10).
    """
    mu_n, s2 = conjugate_predictive(Y)
    exact = norm.logpdf(Y_TEST, mu_n, np.sqrt(SIGMA**2 + s2))
    got = normal_fit.log_prob(Y_TEST)
    assert got.shape == Y_TEST.shape
    mu = normal_fit.posterior["mu"]  # (chain, draw)
    loglik = norm.logpdf(Y_TEST[:, None, None], mu[None], SIGMA)  # (n, chain, draw)
    np.testing.assert_allclose(got, logsumexp(loglik.reshape(len(Y_TEST), -1), axis=1) - np.log(mu.size),
                               rtol=0, atol=1e-10)
    p = np.exp(loglik)
    ess = np.array([float(az.ess(p_x[None] if p_x.ndim == 1 else p_x)) for p_x in p])
    sd_log = p.reshape(len(Y_TEST), -1).std(axis=1) / p.reshape(len(Y_TEST), -1).mean(axis=1) / np.sqrt(ess)
    assert np.all(np.abs(got - exact) < 4 * sd_log), (got - exact) / sd_log


def test_posterior_predictive_sample_has_the_conjugate_moments(normal_fit):
    """Mean and variance of 1,000 draws vs mu_n and sigma^2 + s_n^2 (4 standard errors; the posterior draws'
    own error is added: the draws average over at most S distinct mu_s, whose mean has variance s_n^2 / ESS and
    whose sample variance, the predictive's share s_n^2 of the spread, relative variance 2 / ESS)."""
    mu_n, s2 = conjugate_predictive(Y)
    n = 1000
    draws = normal_fit.sample(n, seed=7)
    assert draws.shape == (n,)
    np.testing.assert_array_equal(draws, normal_fit.sample(n, seed=7))
    assert not np.array_equal(draws, normal_fit.sample(n, seed=8))
    var = SIGMA**2 + s2
    ess = float(az.ess(np.asarray(normal_fit.posterior["mu"])))
    se_mean = np.sqrt(var / n + s2 / ess)
    assert abs(draws.mean() - mu_n) < 4 * se_mean
    se_relative_var = np.sqrt(2 / n + 2 * (s2 / var) ** 2 / ess)  # n Gaussian draws; the spread of the mu_s
    assert abs(draws.var() / var - 1) < 4 * se_relative_var


def two_sites(y, z):
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    with pyro.plate("data", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, 1.0), obs=y)
        pyro.sample("z", dist.Normal(-mu, 1.0), obs=z)


def test_several_observed_sites_are_summed_per_row():
    result = fit(two_sites, {"y": Y[:8], "z": -Y[:8]}, backend="pyro", num_samples=50, num_warmup=50, seed=0,
                 **QUICK)
    y_new, z_new = Y_TEST[:5], -Y_TEST[:5]
    mu = result.posterior["mu"].reshape(-1)
    loglik = norm.logpdf(y_new[:, None], mu, 1.0) + norm.logpdf(z_new[:, None], -mu, 1.0)
    np.testing.assert_allclose(result.log_prob({"y": y_new, "z": z_new}),
                               logsumexp(loglik, axis=1) - np.log(mu.size), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=re.escape("use sample_sites() for a dict of all of them")):
        result.sample(3)


def local_latent(y):
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    with pyro.plate("data", y.shape[0]):
        u = pyro.sample("u", dist.Normal(mu, 1.0))
        pyro.sample("y", dist.Normal(u, 1.0), obs=y)


def test_bad_new_data_is_reported():
    result = fit(local_latent, Y[:6], backend="pyro", num_samples=10, num_warmup=10, seed=0, **QUICK)
    with pytest.raises(ValueError, match=re.escape("latent site 'u' has shape (4,) on the new data but (6,)")):
        result.log_prob(Y_TEST[:4])
    with pytest.raises(ValueError, match=re.escape("Model input data has 1 non-finite value(s)")):
        result.log_prob(np.array([0.0, np.nan]))
