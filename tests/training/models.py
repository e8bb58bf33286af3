"""Small trainable modules shared by the training tests (and the DDP worker script)."""

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule


class LinearGaussianFlow(PyroModule):
    """x = b + L u, u ~ N(0, I), L lower-triangular with a softplus diagonal: an exact-density linear flow."""

    log_prob_kind = "exact"

    def __init__(self, dim: int = 2):
        super().__init__()
        self.b = torch.nn.Parameter(torch.zeros(dim))
        self.raw = torch.nn.Parameter(torch.zeros(dim, dim))

    def scale_tril(self) -> torch.Tensor:
        diagonal = torch.nn.functional.softplus(torch.diagonal(self.raw))
        return torch.tril(self.raw, -1) + torch.diag_embed(diagonal)

    def distribution(self):
        return dist.MultivariateNormal(self.b, scale_tril=self.scale_tril())

    def model(self, batch: torch.Tensor) -> None:
        with pyro.plate("data", batch.shape[0]):
            pyro.sample("x", self.distribution(), obs=batch)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.distribution().log_prob(x)

    def sample(self, num_samples: int) -> torch.Tensor:
        return self.distribution().sample((num_samples,))


class TinyVAE(PyroModule):
    """A 2-D VAE with a 1-D latent: exercises a guide with sampling (stochastic loss)."""

    log_prob_kind = "lower_bound"

    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Linear(2, 2)
        self.decoder = torch.nn.Linear(1, 2)

    def model(self, batch):
        with pyro.plate("data", batch.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0).expand([1]).to_event(1))
            pyro.sample("x", dist.Normal(self.decoder(z), 0.5).to_event(1), obs=batch)

    def guide(self, batch):
        out = self.encoder(batch)
        with pyro.plate("data", batch.shape[0]):
            pyro.sample("z", dist.Normal(out[:, :1], torch.nn.functional.softplus(out[:, 1:])).to_event(1))


def correlated_gaussian(n: int = 400, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) @ np.array([[1.0, 0.0], [0.8, 0.5]]) + np.array([1.0, -2.0])
