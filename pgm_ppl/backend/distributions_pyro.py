"""``dist`` under the Pyro backend: :mod:`pyro.distributions` plus pgm_ppl's own distributions.

Every name of :mod:`pyro.distributions` resolves here unchanged (module ``__getattr__``); what we add is
:class:`HiddenMarkovModel`, which :mod:`pgm_ppl.backend.distributions_numpyro` implements identically on
NumPyro.
"""

from __future__ import annotations

import pyro.distributions as _pyro_dist
import torch
from pyro.distributions import TorchDistribution, constraints
from pyro.util import ignore_jit_warnings

from pgm_ppl.backend import hidden_markov, ops_torch

__all__ = ["HiddenMarkovModel"]


def __getattr__(name: str):
    return getattr(_pyro_dist, name)


class _LogProbabilities(constraints.Constraint):
    """Log-probabilities: real numbers or ``-inf`` (probability zero), never NaN or ``+inf``."""

    def __init__(self, event_dim: int) -> None:
        self.event_dim = event_dim
        super().__init__()

    def check(self, value):
        ok = (value == value) & (value < float("inf"))
        return ok.flatten(-self.event_dim).all(-1) if self.event_dim else ok


def _emission_log_prob(emission, value):
    """``emission.log_prob(value)``, except that a ``Categorical`` given by ``probs`` scores a zero probability as
    ``-inf`` (torch clips the probabilities to about ``exp(-36.7)`` first), as NumPyro does."""
    if isinstance(emission, torch.distributions.Categorical) and "probs" in emission.__dict__:
        log_pmf = torch.log(emission.probs)
        value, log_pmf = torch.broadcast_tensors(value.long().unsqueeze(-1), log_pmf)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)
    return emission.log_prob(value)


class HiddenMarkovModel(TorchDistribution):
    r"""Sequences :math:`x_{1:T}` of a hidden Markov model with the states summed out.

    .. math:: z_1\sim\mathrm{Cat}(\pi),\quad z_t\mid z_{t-1}\sim\mathrm{Cat}(A_{z_{t-1}}),\quad
              x_t\mid z_t\sim p(x\mid\phi_{z_t}),

    ``log_prob`` is :math:`\log p(x_{1:T})` by the forward recursion in log space
    (:mod:`pgm_ppl.backend.hidden_markov`); ``sample`` draws the chain ancestrally. Unlike Pyro's
    ``DiscreteHMM``, whose initial distribution is that of a state *before* the first observation, here
    :math:`\pi` is the distribution of :math:`z_1`, as in the notes.

    Parameters
    ----------
    initial_logits
        Unnormalised :math:`\log\pi`, shape ``(..., K)``.
    transition_logits
        Unnormalised :math:`\log A`, shape ``(..., K, K)``; row :math:`k` is :math:`p(z_t\mid z_{t-1}=k)`.
    emission
        :math:`p(x\mid z=k)`, a distribution with batch shape ``(K,)`` or ``(..., T or 1, K)``.
    num_time_steps
        The sequence length :math:`T`; the event shape is ``(T, *emission.event_shape)``.
    """

    # -inf is a probability of zero (a left-to-right chain), accepted on both backends
    arg_constraints = {"initial_logits": _LogProbabilities(1), "transition_logits": _LogProbabilities(2)}

    def __init__(self, initial_logits, transition_logits, emission, num_time_steps: int, validate_args=None):
        with ignore_jit_warnings():  # shapes are constants of a traced model
            batch_shape, self.num_states = hidden_markov.check_shapes(
                tuple(initial_logits.shape), tuple(transition_logits.shape), tuple(emission.batch_shape),
                num_time_steps)
            self.num_time_steps = int(num_time_steps)
        self.initial_logits = hidden_markov.log_normalise(ops_torch, initial_logits)
        self.transition_logits = hidden_markov.log_normalise(ops_torch, transition_logits)
        self.emission = emission
        super().__init__(torch.Size(batch_shape), torch.Size((self.num_time_steps,) + tuple(emission.event_shape)),
                         validate_args=validate_args)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.independent(self.emission.support, 1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        states_axis = -1 - len(self.emission.event_shape)
        log_emission = _emission_log_prob(self.emission, value.unsqueeze(states_axis))
        with ignore_jit_warnings():  # the recursion loops over T steps, fixed for a traced model
            return hidden_markov.log_likelihood(ops_torch, self.initial_logits, self.transition_logits, log_emission)

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = torch.Size()) -> torch.Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape
        with torch.no_grad():
            uniforms = torch.rand(shape + (self.num_time_steps,), dtype=self.initial_logits.dtype,
                                  device=self.initial_logits.device)
            z = hidden_markov.sample_states(ops_torch, uniforms, self.initial_logits, self.transition_logits)
            emissions = self.emission.expand(self.batch_shape + (self.num_time_steps, self.num_states)).sample(
                sample_shape)
            event = tuple(self.emission.event_shape)
            index = z.reshape(z.shape + (1,) * (1 + len(event))).expand(z.shape + (1,) + event)
            return emissions.gather(-1 - len(event), index).squeeze(-1 - len(event))
