"""Maximum likelihood for neutral models: closed forms of the Gaussian (course (1.8)-(1.11)) and the
mixture's EM optimum (pgm_ppl.em, itself checked against scikit-learn) with assignments summed out."""

import numpy as np
import pytest

from pgm_ppl import dist, ops, pyro
from pgm_ppl.em import fit_gmm
from pgm_ppl.inference.mle import fit_mle

Y = np.random.default_rng(0).normal(2.0, 1.5, size=200)


def normal(y):
    mu = pyro.param("mu", 0.0)
    sigma = pyro.param("sigma", 1.0, constraint=dist.constraints.positive)
    with pyro.plate("data", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, sigma), obs=y)


def test_gaussian_mle_and_standard_errors_are_the_closed_forms():
    result = fit_mle(normal, Y)
    sigma_hat = Y.std()  # the biased ML estimate
    np.testing.assert_allclose(result.params["mu"], Y.mean(), rtol=1e-8)
    np.testing.assert_allclose(result.params["sigma"], sigma_hat, rtol=1e-8)
    # observed information of (mu, sigma) at the MLE: diag(n / sigma^2, 2n / sigma^2)
    np.testing.assert_allclose(result.standard_errors["mu"], sigma_hat / np.sqrt(len(Y)), rtol=1e-6)
    np.testing.assert_allclose(result.standard_errors["sigma"], sigma_hat / np.sqrt(2 * len(Y)), rtol=1e-6)
    expected = -0.5 * len(Y) * (np.log(2 * np.pi * sigma_hat**2) + 1)
    np.testing.assert_allclose(result.log_likelihood, expected, rtol=1e-10)


def mixture(x, K=2):
    weights = pyro.param("weights", ops.ones(K) / K, constraint=dist.constraints.simplex)
    locs = pyro.param("locs", ops.linspace(-1.0, 1.0, K))
    scales = pyro.param("scales", ops.ones(K), constraint=dist.constraints.positive)
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Categorical(weights), infer={"enumerate": "parallel"})
        pyro.sample("x", dist.Normal(locs[z], scales[z]), obs=x)


def test_enumerated_mixture_mle_reaches_the_em_optimum():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-2.0, 0.5, 150), rng.normal(1.5, 1.0, 250)])
    ours = fit_mle(mixture, x)
    em = fit_gmm(x[:, None], 2, covariance_type="full", reg_covar=0.0, tol=1e-12, max_iter=2000)
    np.testing.assert_allclose(ours.log_likelihood, em.log_likelihood, rtol=1e-7)  # both totals over x
    order = np.argsort(em.params.means[:, 0])
    np.testing.assert_allclose(ours.params["locs"], em.params.means[order, 0], rtol=1e-4)
    np.testing.assert_allclose(ours.params["weights"], em.params.weights[order], rtol=1e-4)


def test_models_with_continuous_latents_are_refused():
    def latent(y):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with pyro.plate("data", y.shape[0]):
            pyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    with pytest.raises(ValueError, match=r"latent samples \['mu'\]. For a MAP estimate use"):
        fit_mle(latent, Y)
