"""The density of a trained module: the per-row ELBO of a model and guide without log_prob, and row shapes."""

import math
import re

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from models import LinearGaussianFlow, correlated_gaussian
from pyro.nn import PyroModule

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.training import ModuleDensity, train

torch.set_num_threads(1)
SIGMA = 0.5


class _LinearGaussianVAE(PyroModule):
    """z ~ N(0, 1), x | z ~ N(W z + b, SIGMA^2 I); guide q(z | x) = N(A x + c, s^2). No log_prob, no sample."""

    def __init__(self):
        super().__init__()
        self.W = torch.nn.Parameter(torch.tensor([[1.0], [0.6]]))
        self.b = torch.nn.Parameter(torch.tensor([0.5, -1.0]))
        self.A = torch.nn.Parameter(torch.tensor([[0.3, 0.2]]))
        self.c = torch.nn.Parameter(torch.tensor([0.1]))
        self.log_s = torch.nn.Parameter(torch.tensor([-0.7]))

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(1, dtype=x.dtype), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ self.W.T + self.b, SIGMA).to_event(1), obs=x)

    def guide(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(x @ self.A.T + self.c, self.log_s.exp()).to_event(1))

    def exact_log_prob(self, x):  # the marginal N(b, W W' + SIGMA^2 I)
        covariance = self.W @ self.W.T + SIGMA ** 2 * torch.eye(2, dtype=x.dtype)
        return dist.MultivariateNormal(self.b, covariance).log_prob(x)

    def closed_form_elbo(self, x):  # E_q[log p(x | z)] + E_q[log p(z)] + H[q], all Gaussian
        m, s2 = (x @ self.A.T + self.c)[:, 0], self.log_s.exp()[0] ** 2
        mean = m[:, None] * self.W[:, 0] + self.b
        likelihood = dist.Normal(mean, SIGMA).log_prob(x).sum(-1) - 0.5 * s2 * (self.W ** 2).sum() / SIGMA ** 2
        prior = dist.Normal(0.0, 1.0).log_prob(m) - 0.5 * s2
        entropy = 0.5 * torch.log(2 * math.pi * math.e * s2)
        return likelihood + prior + entropy


def test_a_vae_without_log_prob_gets_its_per_row_elbo_as_a_lower_bound():
    X = correlated_gaussian(200)
    V = X[:20]
    with torch_seeded(0):
        vae = _LinearGaussianVAE().double()
    fit = train(vae, X, num_steps=3, batch_size=64, dtype=torch.float64, validation_data=V, validate_every=3,
                progress_bar=False)
    assert fit.density.kind == "lower_bound"
    assert fit.log_likelihood["x"].shape == (1, 1, 20) and np.isfinite(fit.log_likelihood["x"]).all()
    with pytest.raises(NotImplementedError, match=r"_LinearGaussianVAE has no sample\(num_samples\) method"):
        fit.sample(3)

    with torch.no_grad():
        V_t = torch.as_tensor(V)
        exact, bound = vae.exact_log_prob(V_t).numpy(), vae.closed_form_elbo(V_t).numpy()
    assert (bound < exact).all()  # the closed-form ELBO is a bound (the guide is not the exact posterior)
    # One particle per row, 400 replicates of each row: the mean is the ELBO within Monte Carlo error.
    density = ModuleDensity(vae, dtype=torch.float64, device=torch.device("cpu"), event_shape=(2,))
    draws = density.log_prob(np.tile(V, (400, 1))).reshape(400, 20)
    standard_error = draws.std(0, ddof=1) / math.sqrt(400)
    assert (np.abs(draws.mean(0) - bound) < 5 * standard_error).all()
    # The mean over rows is below the mean exact log p(x) by more than 4 of its Monte Carlo standard errors.
    assert draws.mean() < exact.mean() - 4 * np.sqrt((standard_error ** 2).sum()) / 20
    # num_particles averages particles per row.
    averaged = ModuleDensity(vae, dtype=torch.float64, device=torch.device("cpu"), num_particles=100).log_prob(V)
    assert (np.abs(averaged - bound) < 5 * draws.std(0, ddof=1) / 10).all()


def test_log_prob_checks_the_row_shape():
    fit = train(LinearGaussianFlow(2), correlated_gaussian(64), num_steps=2, num_generated=0, progress_bar=False)
    with pytest.raises(ValueError, match=re.escape("x: expected an array of rows of shape (2,) (the training data's "
                                                   "rows), got shape (5, 3).")):
        fit.log_prob(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=re.escape("rows of shape (2,) (the training data's rows), got shape (2,).")):
        fit.log_prob(np.zeros(2))
