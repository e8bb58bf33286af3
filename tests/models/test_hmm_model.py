"""The Bayesian HMMs through ``fit``: NUTS on both backends recovers the parameters, relabels the states,
and reports per-sequence log-likelihoods equal to the numpy forward algorithm at every draw."""

import arviz as az
import numpy as np
import pytest
from scipy.stats import norm

from pgm_ppl import fit
from pgm_ppl.graphical import CategoricalHMM, GaussianHMM, forward_backward
from pgm_ppl.models.hmm import categorical_hmm, gaussian_hmm

PI = np.array([0.5, 0.5])
A = np.array([[0.9, 0.1], [0.15, 0.85]])
MU, SD = np.array([-1.5, 1.5]), np.array([0.5, 0.6])
X = GaussianHMM(PI, A, MU[:, None], SD[:, None] ** 2).sample(6, 40, seed=0)[1][..., 0]


def forward_log_likelihood(x, posterior, chain, draw):
    """log p(x^(n)) per sequence from the numpy forward algorithm at one posterior draw."""
    value = {name: posterior[name].values[chain, draw] for name in ("initial", "transition", "mu", "sigma")}
    log_emission = norm.logpdf(x[..., None], value["mu"], value["sigma"])
    return forward_backward(np.log(value["initial"]), np.log(value["transition"]), log_emission).log_likelihood


@pytest.mark.parametrize("backend, chains, draws", [("numpyro", 2, 300), ("pyro", 1, 150)])
def test_nuts_recovers_a_gaussian_hmm_and_reports_per_sequence_log_likelihood(backend, chains, draws):
    options = {"jit_compile": True} if backend == "pyro" else {}
    result = fit(gaussian_hmm, X, method="nuts", backend=backend, num_samples=draws, num_warmup=draws,
                 num_chains=chains, num_prior_samples=50, progress_bar=False, seed=1, **options)
    idata = result.to_inference_data()
    post = idata.posterior
    # states are relabelled so that mu is increasing; the posterior sits on the truth
    np.testing.assert_allclose(post["mu"].mean(("chain", "draw")), MU, atol=0.25)
    np.testing.assert_allclose(post["sigma"].mean(("chain", "draw")), SD, atol=0.15)
    np.testing.assert_allclose(np.diagonal(post["transition"].mean(("chain", "draw"))), np.diag(A), atol=0.08)
    if chains > 1:
        assert float(az.rhat(idata, var_names=["mu"])["mu"].max()) < 1.05
    assert int(idata.sample_stats["diverging"].sum()) == 0
    loglik = idata.log_likelihood["x"]
    assert loglik.shape == (chains, draws, 6)
    for chain, draw in [(0, 0), (chains - 1, draws - 1), (0, draws // 2)]:
        np.testing.assert_allclose(loglik.values[chain, draw], forward_log_likelihood(X, post, chain, draw),
                                   rtol=1e-10)
    assert idata.posterior_predictive["x"].shape == (chains, draws, 6, 40)
    assert idata.prior_predictive["x"].shape == (1, 50, 6, 40)
    # draws of whole sequences: the predictive keeps the two regimes' levels
    predictive = idata.posterior_predictive["x"].values
    assert abs(predictive.mean() - X.mean()) < 0.5 and abs(predictive.std() - X.std()) < 0.3


def test_svi_fits_a_categorical_hmm():
    emission = np.array([[0.8, 0.15, 0.05], [0.05, 0.15, 0.8]])
    _, symbols = CategoricalHMM(PI, A, emission).sample(20, 50, seed=2)
    result = fit(categorical_hmm, symbols, method="svi", backend="numpyro", num_steps=3000, learning_rate=0.02,
                 num_samples=200, model_kwargs={"num_symbols": 3}, predictive=False, progress_bar=False, seed=0)
    post = result.to_inference_data().posterior
    # relabelled by the emission rows (lexicographic on the first coordinate): state 0 emits symbol 2
    np.testing.assert_allclose(post["emission"].mean(("chain", "draw")), emission[::-1], atol=0.08)
    np.testing.assert_allclose(np.diagonal(post["transition"].mean(("chain", "draw"))), np.diag(A)[::-1],
                               atol=0.1)
    assert result.to_inference_data().log_likelihood["x"].shape == (1, 200, 20)


def test_a_single_sequence_is_one_row():
    from numpyro import handlers

    from pgm_ppl.backend import use_backend

    with use_backend("numpyro"):
        trace = handlers.trace(handlers.seed(gaussian_hmm, 0)).get_trace(X[0])
        assert trace["x"]["fn"].batch_shape == (1,) and trace["x"]["value"].shape == (1, 40)
        with pytest.raises(ValueError, match="one sequence"):
            handlers.seed(gaussian_hmm, 0)(X[None])
