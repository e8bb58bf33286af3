"""The training engine: MLE recovery, determinism, isolation, non-finite losses, bad input, ArviZ conversion."""

import re

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from models import LinearGaussianFlow, TinyVAE, correlated_gaussian
from pyro.nn import PyroModule

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.diagnostics import to_inference_data
from pgm_ppl.inference.errors import NonFiniteLossError
from pgm_ppl.training import train

torch.set_num_threads(1)


def test_linear_gaussian_flow_recovers_the_gaussian_mle():
    # Reference: the Gaussian MLE is the sample mean and the 1/N sample covariance (closed form).
    X = correlated_gaussian()
    flow = LinearGaussianFlow(2)
    fit = train(flow, X, num_steps=400, batch_size=len(X), learning_rate=0.1, lr_schedule="cosine",
                dtype=torch.float64, validation_data=X[:50], progress_bar=False)
    L = flow.scale_tril().detach().numpy()
    assert np.abs(flow.b.detach().numpy() - X.mean(0)).max() < 1e-3
    assert np.abs(L @ L.T - np.cov(X.T, bias=True)).max() < 1e-3
    # With the empty guide, Trace_ELBO's loss is exactly -log p(x) of the batch.
    assert fit.losses[-1] == pytest.approx(-flow.log_prob(torch.as_tensor(X)).sum().item(), rel=1e-10)
    assert fit.density.kind == "exact"
    assert fit.log_likelihood["x"].shape == (1, 1, 50)
    np.testing.assert_allclose(fit.log_likelihood["x"][0, 0], fit.log_prob(X[:50]))
    assert fit.posterior_predictive["x"].shape == (1, 500, 2)
    assert fit.stop_reason == "num_steps" and fit.converged is None and fit.point_estimate
    idata = to_inference_data(fit)
    assert idata.sample_stats["loss"].shape == (400,)
    assert np.isnan(idata.sample_stats["validation_loss"].values[:99]).all()
    assert idata.log_likelihood["x"].shape == (1, 1, 50)
    assert idata.observed_data["x"].shape == (400, 2)


def _curve(seed, **kw):
    X = correlated_gaussian(200)
    with torch_seeded(7):  # the same initial weights for every run; train's seed drives everything after
        vae = TinyVAE().double()
    return train(vae, X, num_steps=30, batch_size=64, seed=seed, dtype=torch.float64,
                 num_generated=0, progress_bar=False, **kw).losses


def test_same_seed_same_curve_and_the_caller_state_is_untouched():
    pyro.clear_param_store()
    pyro.param("caller_owned", torch.tensor(3.0))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, second, other = _curve(0), _curve(0), _curve(1)
    assert np.array_equal(first, second)  # bit for bit
    assert not np.allclose(first, other)
    assert torch.equal(torch.get_rng_state(), before)
    assert list(pyro.get_param_store().keys()) == ["caller_owned"]
    assert pyro.param("caller_owned").item() == 3.0
    pyro.clear_param_store()


class _SqrtModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.ones(2))
        self.b = torch.nn.Parameter(torch.ones(2))


def test_non_finite_loss_names_the_step_and_the_parameter():
    # d/da sqrt(a - a0) is infinite at a = a0: Adam turns 'a' into NaN at step 1, so step 2's loss is NaN.
    def loss(module, batch):
        return torch.sqrt(module.a - module.a.detach()).sum() + (module.b - batch.mean()).pow(2).sum()

    with pytest.raises(NonFiniteLossError, match=r"at step 2: parameter 'a' is not finite"):
        train(_SqrtModule(), np.ones((8, 2)), loss=loss, num_steps=5, batch_size=8, progress_bar=False)


class _BadFactor(PyroModule):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(0.5))

    def model(self, batch):
        pyro.factor("penalty", torch.log(self.c - 0.5))  # log 0 = -inf
        with pyro.plate("data", batch.shape[0]):
            pyro.sample("x", dist.Normal(self.c, 1.0), obs=batch[:, 0])


def test_non_finite_loss_names_the_pyro_site():
    with pytest.raises(NonFiniteLossError, match=r"at step 1: the log-density of site 'penalty' is not finite"):
        train(_BadFactor(), np.ones((8, 1)), num_steps=3, progress_bar=False)


def test_wrong_data_dimension_names_the_shape():
    with pytest.raises(ValueError, match=re.escape("data: LinearGaussianFlow failed on a batch of shape (16, 3)")):
        train(LinearGaussianFlow(2), np.ones((16, 3)), num_steps=2, progress_bar=False)


def test_nan_in_data_uses_check_data():
    X = correlated_gaussian(20)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("data: expected finite values, got nan at row 3, column 1")):
        train(LinearGaussianFlow(2), X, num_steps=2, progress_bar=False)


def test_unknown_optimizer_lists_the_valid_ones():
    with pytest.raises(ValueError, match=re.escape("optimizer: expected one of 'adam', 'adamw', got 'sgdd'.")):
        train(LinearGaussianFlow(2), correlated_gaussian(20), optimizer="sgdd", progress_bar=False)


def test_streaming_batches_match_an_iterator_and_end_when_exhausted():
    X = correlated_gaussian(64)
    batches = [X[i:i + 16] for i in range(0, 64, 16)]
    fit = train(LinearGaussianFlow(2), iter(batches), num_steps=10, progress_bar=False, num_generated=0)
    assert fit.stop_reason == "data_exhausted" and len(fit.losses) == 4
    refit = train(LinearGaussianFlow(2), batches, num_steps=10, progress_bar=False, num_generated=0)
    assert len(refit.losses) == 10 and np.array_equal(refit.losses[:4], fit.losses)


class _Batches:
    """A re-iterable stream of batches (rows ``X[a:b]`` for each ``(a, b)``)."""

    def __init__(self, X, cuts):
        self.X, self.cuts = X, cuts

    def __iter__(self):
        return (self.X[a:b] for a, b in self.cuts)


def test_validation_loss_is_on_the_training_scale_for_streams_and_arrays():
    # The ELBO of a flow sums -log p over the batch: the validation loss at a step is the mean held-out -log p
    # times the rows of that step's training batch (64), for a stream as for an array.
    X = correlated_gaussian(256)
    V = X[:100]
    options = dict(num_steps=10, validate_every=5, validation_data=V, dtype=torch.float64, num_generated=0,
                   progress_bar=False)
    for data in (_Batches(X, [(0, 64), (64, 128)]), X):
        fit = train(LinearGaussianFlow(2), data, batch_size=64, **options)
        assert fit.validation_losses[9] == pytest.approx(-fit.log_prob(V).mean() * 64, rel=1e-10)
    # Batches of 32 and 64 rows in turn: each evaluation is scaled by its own step's batch.
    flow = LinearGaussianFlow(2)
    fit = train(flow, _Batches(X, [(0, 32), (32, 96)]), learning_rate=1e-12, **options)
    per_row = -fit.log_prob(V).mean()  # the weights barely move at this learning rate
    np.testing.assert_allclose(fit.validation_losses[[4, 9]], [per_row * 32, per_row * 64], rtol=1e-8)
    assert fit.objective == "negative_elbo"
    assert "elbo" in fit.to_inference_data().sample_stats
