"""``fit``'s contract: native models detected, seeds reproducible, bad input and NaN losses reported."""

import re

import arviz as az
import numpy as np
import pytest

from pgm_ppl import dist, fit, ops, pyro
from pgm_ppl.inference import ModelRunError, NonFiniteLossError

Y = np.random.default_rng(0).normal(1.0, 1.0, size=30)
QUICK = dict(num_samples=100, num_warmup=100, num_chains=2, progress_bar=False, num_prior_samples=20)
BARE = dict(QUICK, num_prior_samples=0, predictive=False, log_likelihood=False)  # no extras to compile


def neutral_model(y):
    mu = pyro.sample("mu", dist.Normal(0.0, 10.0))
    with pyro.plate("data", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, 1.0), obs=y)


def numpyro_model(y):
    import numpyro
    import numpyro.distributions as nd

    mu = numpyro.sample("mu", nd.Normal(0.0, 10.0))
    numpyro.deterministic("mu_twice", 2 * mu)
    with numpyro.plate("data", y.shape[0]):
        numpyro.sample("y", nd.Normal(mu, 1.0), obs=y)


def pyro_model(y):
    import pyro as native
    import pyro.distributions as pd

    mu = native.sample("mu", pd.Normal(0.0, 10.0))
    native.deterministic("mu_twice", 2 * mu)
    native.factor("soft_constraint", -0.0 * mu)
    with native.plate("data", y.shape[0]):
        native.sample("y", pd.Normal(mu, 1.0), obs=y)


@pytest.mark.parametrize("model, backend", [(numpyro_model, "numpyro"), (pyro_model, "pyro")])
def test_native_models_are_detected_and_run_on_their_backend(model, backend):
    result = fit(model, Y, **QUICK)
    assert result.backend == backend
    np.testing.assert_allclose(result.posterior["mu_twice"], 2 * result.posterior["mu"], rtol=1e-12)
    assert set(result.log_likelihood) == {"y"}  # deterministic and factor sites are not likelihoods
    # N(0, 10) prior, unit noise: mu | y ~ N(sum y / (n + 1e-2), 1 / (n + 1e-2)); 5 Monte Carlo standard errors
    conjugate_mean, conjugate_sd = Y.sum() / (len(Y) + 1e-2), 1 / np.sqrt(len(Y) + 1e-2)
    mcse = conjugate_sd / np.sqrt(float(az.ess(np.asarray(result.posterior["mu"]))))
    assert abs(result.posterior["mu"].mean() - conjugate_mean) < 5 * mcse


def test_native_model_on_the_other_backend_is_refused():
    with pytest.raises(ValueError, match="numpyro_model is a native numpyro model and cannot run on backend='pyro'"):
        fit(numpyro_model, Y, backend="pyro", **BARE)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_same_seed_same_draws(backend):
    first, second = (fit(neutral_model, Y, backend=backend, seed=5, **QUICK) for _ in range(2))
    np.testing.assert_array_equal(first.posterior["mu"], second.posterior["mu"])
    np.testing.assert_array_equal(first.prior_predictive["y"], second.prior_predictive["y"])
    other = fit(neutral_model, Y, backend=backend, seed=6, **BARE)
    assert not np.array_equal(first.posterior["mu"], other.posterior["mu"])


@pytest.mark.parametrize("data, error, message", [
    (np.array([1.0, np.nan, 2.0]), ValueError, "Model input data has 1 non-finite value(s); the first, nan, is at index (1,)"),
    (np.array([]), ValueError, "Model input data is empty (shape (0,))"),
    ({"y": np.array(["a", "b"])}, TypeError, "Model input 'y': expected a numeric array, got dtype <U1"),
])
def test_bad_data_names_the_culprit(data, error, message):
    with pytest.raises(error, match=re.escape(message)):
        fit(neutral_model, data, **BARE)


@pytest.mark.parametrize("options, message", [
    ({"method": "gibbs"}, "Unknown method 'gibbs': choose one of 'nuts', 'hmc', 'svi'"),
    ({"backend": "stan"}, "Unknown backend 'stan': choose one of 'numpyro', 'pyro'"),
    ({"method": "svi", "guide": "auto_flow"}, "Unknown guide 'auto_flow': pass a guide function or one of"),
])
def test_unknown_names_list_the_valid_ones(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        fit(neutral_model, Y, **{**BARE, **options})


def regression(X, y):
    w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([3]).to_event(1))
    with pyro.plate("data", y.shape[0]):
        pyro.sample("y", dist.Normal(X @ w, 1.0), obs=y)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_wrong_shapes_name_the_last_site_and_the_inputs(backend):
    message = "The model failed after site 'w' ("
    with pytest.raises(ModelRunError, match=re.escape(message)) as raised:
        fit(regression, {"X": np.ones((30, 2)), "y": Y}, backend=backend, **BARE)
    assert "X (30, 2), y (30,)" in str(raised.value)


def penalised_model(y):
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    pyro.factor("penalty", ops.log(1.0 - ops.square(mu) / 9.0))  # NaN once |mu| > 3
    with pyro.plate("data", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, 1.0), obs=y)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_nan_loss_stops_with_step_and_site(backend):
    message = r"SVI loss became nan at step \d+: the log-density of site 'penalty' is not finite there"
    with pytest.raises(NonFiniteLossError, match=message):  # Adam's first steps (about lr) leave |mu| < 3
        fit(penalised_model, Y, method="svi", backend=backend, num_steps=50, learning_rate=50.0,
            progress_bar=False, num_prior_samples=0)


def test_pyro_runs_leave_the_callers_rng_and_param_store_alone():
    """Pyro fits run in a forked, seeded generator and a scoped parameter store: the caller's own
    parameters survive, and the fit's (the guide's) do not leak out."""
    import pyro as native_pyro
    import torch

    from pgm_ppl.models.linear_regression import linear_regression

    store = native_pyro.get_param_store()
    with store.scope():
        native_pyro.param("mine", torch.tensor(1.5))
        rng = torch.random.get_rng_state()
        X = np.random.default_rng(0).normal(size=(20, 2))
        fit(linear_regression, {"X": X, "y": X.sum(1)}, method="svi", backend="pyro", num_steps=20,
            num_samples=5, predictive=False, log_likelihood=False, progress_bar=False)
        assert list(store.keys()) == ["mine"] and float(store["mine"]) == 1.5
        assert torch.equal(torch.random.get_rng_state(), rng)
