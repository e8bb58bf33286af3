"""``dist`` under the NumPyro backend: :mod:`numpyro.distributions` plus pgm_ppl's own distributions.

Every name of :mod:`numpyro.distributions` resolves here unchanged (module ``__getattr__``); what we add
is :class:`HiddenMarkovModel`, the same distribution as
:class:`pgm_ppl.backend.distributions_pyro.HiddenMarkovModel` (see there for the maths).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpyro.distributions as _numpyro_dist
from numpyro.distributions import Distribution, constraints

from pgm_ppl.backend import hidden_markov, ops_jax

__all__ = ["HiddenMarkovModel"]


def __getattr__(name: str):
    return getattr(_numpyro_dist, name)


# compiled once per shape: run eagerly (as NumPyro does while it sets a model up), the recursion would
# otherwise dispatch, and compile, its small operations one by one
_log_likelihood = jax.jit(partial(hidden_markov.log_likelihood, ops_jax))


@partial(jax.jit, static_argnums=(3, 4))
def _sample_states(key, initial_logits, transition_logits, shape: tuple[int, ...], num_time_steps: int):
    """Ancestral draws of :math:`z_{1:T}`, shape ``(*shape, T)`` (:func:`hidden_markov.sample_states`)."""
    uniforms = jax.random.uniform(key, shape + (num_time_steps,), dtype=jnp.result_type(initial_logits))
    return hidden_markov.sample_states(ops_jax, uniforms, initial_logits, transition_logits)


class _LogProbabilities(constraints.Constraint):
    """Log-probabilities: real numbers or ``-inf`` (probability zero), never NaN or ``+inf``."""

    def __init__(self, event_dim: int) -> None:
        self.event_dim = event_dim

    def __call__(self, x):
        ok = (x == x) & (x < jnp.inf)
        return jnp.all(ok, axis=tuple(range(-self.event_dim, 0))) if self.event_dim else ok

    def feasible_like(self, prototype):
        return jnp.zeros_like(prototype)

    def tree_flatten(self):
        return (), ((), {"event_dim": self.event_dim})


class HiddenMarkovModel(Distribution):
    r"""Sequences :math:`x_{1:T}` of a hidden Markov model with the states summed out (NumPyro).

    Parameters are those of :class:`pgm_ppl.backend.distributions_pyro.HiddenMarkovModel`:
    ``initial_logits`` ``(..., K)`` for :math:`z_1`, ``transition_logits`` ``(..., K, K)``, an
    ``emission`` distribution with batch shape ``(K,)`` or ``(..., T or 1, K)``, and ``num_time_steps`` :math:`T`.
    """

    # -inf is a probability of zero (a left-to-right chain): NumPyro's ``real`` excludes it, this does not
    arg_constraints = {"initial_logits": _LogProbabilities(1), "transition_logits": _LogProbabilities(2)}
    pytree_data_fields = ("initial_logits", "transition_logits", "emission")
    pytree_aux_fields = ("num_time_steps", "num_states")

    def __init__(self, initial_logits, transition_logits, emission, num_time_steps: int, *, validate_args=None):
        batch_shape, self.num_states = hidden_markov.check_shapes(
            jnp.shape(initial_logits), jnp.shape(transition_logits), tuple(emission.batch_shape), num_time_steps)
        self.initial_logits = hidden_markov.log_normalise(ops_jax, initial_logits)
        self.transition_logits = hidden_markov.log_normalise(ops_jax, transition_logits)
        self.emission = emission
        self.num_time_steps = int(num_time_steps)
        super().__init__(batch_shape, (self.num_time_steps,) + tuple(emission.event_shape), validate_args=validate_args)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.independent(self.emission.support, 1)

    def log_prob(self, value: jax.Array) -> jax.Array:
        states_axis = -1 - len(self.emission.event_shape)
        log_emission = self.emission.log_prob(jnp.expand_dims(value, states_axis))
        # the scan's carry keeps one shape: give the emissions the parameters' batch axes up front
        steps = log_emission.shape[-2:]
        log_emission = jnp.broadcast_to(log_emission, jnp.broadcast_shapes(log_emission.shape, self.batch_shape + steps))
        return _log_likelihood(self.initial_logits, self.transition_logits, log_emission)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        key_states, key_emissions = jax.random.split(key)
        z = _sample_states(key_states, self.initial_logits, self.transition_logits,
                           tuple(sample_shape) + self.batch_shape, self.num_time_steps)
        emissions = self.emission.expand(self.batch_shape + (self.num_time_steps, self.num_states)).sample(
            key_emissions, sample_shape)
        event = tuple(self.emission.event_shape)
        index = z.reshape(z.shape + (1,) * (1 + len(event)))
        return jnp.take_along_axis(emissions, index, axis=-1 - len(event)).squeeze(-1 - len(event))
