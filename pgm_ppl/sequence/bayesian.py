r"""A Bayesian language model: a prior on the output layer, fitted by SVI (course §7.15 with chapter 3's VI).

The same autoregressive model as :class:`~pgm_ppl.sequence.TransformerLM` or :class:`~pgm_ppl.sequence.RNNLM`,
with the output layer :math:`(W, b)` made a random variable:

.. math::
    W_{vd} \sim \mathcal N(0, s^2), \quad b_v \sim \mathcal N(0, s^2), \qquad
    x_{n,t} \mid x_{n,<t}, W, b \sim \mathrm{Categorical}\big(\mathrm{softmax}(W z_{n,t} + b)\big),

where :math:`z_{n,t}` are the features of the network body (a ``pyro.module``, fitted by maximum likelihood: the
type-II / "last-layer Bayesian" compromise), :math:`s` is ``prior_scale``. The guide is a mean-field Gaussian
:math:`q(W, b) = \prod \mathcal N(\mu, \sigma^2)`, and :func:`pgm_ppl.training.train` maximises the ELBO; the
sequences' plate is subsampled (``num_data`` rows in all), so each mini-batch's likelihood is scaled by
``num_data / batch`` and the ELBO is that of the whole training set.

``log_prob`` is the log posterior predictive :math:`\log \frac1S \sum_s p(x \mid W_s, b_s)`,
:math:`(W_s, b_s) \sim q`, a consistent Monte Carlo estimate (``log_prob_kind = "estimate"``). Decoding
(:func:`~pgm_ppl.sequence.generate`) uses the posterior-mean layer; :meth:`sample` draws one layer from :math:`q`
per call, so each generated row is marginally a draw of the posterior predictive.
"""

from __future__ import annotations

import math
from typing import Any

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.sequence.lm import LanguageModel

__all__ = ["BayesianOutputLM", "bayesian_output_lm"]


class BayesianOutputLM(LanguageModel):
    """A language model whose output layer has a Gaussian prior and a mean-field Gaussian posterior (see the
    module docstring).

    Parameters
    ----------
    body
        A :class:`~pgm_ppl.sequence.TransformerLM` or :class:`~pgm_ppl.sequence.RNNLM` (anything with
        ``features(inputs, cache)`` and ``feature_dim``); its own output layer is not used.
    num_data
        Number of training rows (the plate's full size, for the mini-batch scaling of the likelihood).
    prior_scale
        :math:`s`, the prior standard deviation of every output weight and bias.
    num_particles
        Draws :math:`S` of :math:`q` in :meth:`log_prob`.
    """

    log_prob_kind = "estimate"

    def __init__(self, body: LanguageModel, num_data: int, *, prior_scale: float = 1.0, num_particles: int = 16):
        if not callable(getattr(body, "features", None)):
            raise TypeError(f"body: expected a language model with a features(inputs, cache) method (TransformerLM, "
                            f"RNNLM), got {type(body).__name__}.")
        super().__init__(body.vocab_size, body.context_length)
        self.body = body
        self.max_length = getattr(body, "max_length", None)
        self.num_data = check_int(num_data, "num_data")
        self.prior_scale = check_positive(prior_scale, "prior_scale")
        self.num_particles = check_int(num_particles, "num_particles")
        V, D = body.vocab_size, body.feature_dim
        self.W_loc = nn.Parameter(torch.randn(V, D) / math.sqrt(D))
        self.W_scale = nn.Parameter(torch.full((V, D), -4.0))  # softplus^-1 of the initial posterior scale
        self.b_loc = nn.Parameter(torch.zeros(V))
        self.b_scale = nn.Parameter(torch.full((V,), -4.0))
        self._layer: tuple[torch.Tensor, torch.Tensor] | None = None  # a drawn layer, set only inside sample()

    def new_cache(self) -> Any:
        return self.body.new_cache() if hasattr(self.body, "new_cache") else None

    def _prior(self) -> tuple[dist.Distribution, dist.Distribution]:
        V, D = self.W_loc.shape
        zero = self.W_loc.new_zeros(())
        return (dist.Normal(zero, self.prior_scale).expand([V, D]).to_event(2),
                dist.Normal(zero, self.prior_scale).expand([V]).to_event(1))

    def _posterior(self) -> tuple[dist.Distribution, dist.Distribution]:
        return (dist.Normal(self.W_loc, F.softplus(self.W_scale)).to_event(2),
                dist.Normal(self.b_loc, F.softplus(self.b_scale)).to_event(1))

    def forward(self, inputs: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        """Logits with the posterior-mean layer (or the layer drawn by :meth:`sample`)."""
        h, cache = self.body.features(inputs, cache)
        W, b = self._layer if self._layer is not None else (self.W_loc, self.b_loc)
        return F.linear(h, W, b), cache

    def model(self, x: torch.Tensor) -> None:
        r"""Pyro model: :math:`W, b` from the prior; each row's tokens Categorical given :math:`W z_t + b`."""
        pyro.module("body", self.body)
        prior_W, prior_b = self._prior()
        W = pyro.sample("W", prior_W)
        b = pyro.sample("b", prior_b)
        x = self._check(x)
        h, _ = self.body.features(self._inputs(x))
        with pyro.plate("sequences", self.num_data, subsample=torch.arange(x.shape[0], device=x.device)):
            pyro.sample("x", dist.Categorical(logits=F.linear(h, W, b)).to_event(1), obs=x.long())

    def guide(self, x: torch.Tensor) -> None:
        """Mean-field Gaussian guide on the output layer."""
        post_W, post_b = self._posterior()
        pyro.sample("W", post_W)
        pyro.sample("b", post_b)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log posterior predictive per row, ``(batch,)``, by ``num_particles`` draws of :math:`q` (nats)."""
        x = self._check(x)
        h, _ = self.body.features(self._inputs(x))
        post_W, post_b = self._posterior()
        W, b = post_W.sample((self.num_particles,)), post_b.sample((self.num_particles,))
        logits = torch.einsum("ntd,svd->sntv", h, W) + b[:, None, None, :]
        per_draw = dist.Categorical(logits=logits).log_prob(x.long()).sum(-1)  # (S, batch)
        return torch.logsumexp(per_draw, 0) - math.log(self.num_particles)

    def sample(self, num_samples: int) -> torch.Tensor:
        """Rows generated with one output layer drawn from :math:`q` (torch's current generator)."""
        post_W, post_b = self._posterior()
        self._layer = (post_W.sample(), post_b.sample())
        try:
            return super().sample(num_samples)
        finally:
            self._layer = None


def bayesian_output_lm(body: LanguageModel, num_data: int, *, prior_scale: float = 1.0,
                       num_particles: int = 16, seed: int = 0) -> BayesianOutputLM:
    """Wrap ``body`` as a :class:`BayesianOutputLM`, the variational parameters drawn under ``torch_seeded(seed)``."""
    from pgm_ppl.backend.seeding import torch_seeded

    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):
        return BayesianOutputLM(body, num_data, prior_scale=prior_scale, num_particles=num_particles)
