"""Issue 18, item 5: ``dist.HiddenMarkovModel`` takes ``-inf`` logits (probability zero) on both backends and
gives the same numbers, down to an impossible symbol scoring ``-inf``."""

import jax
import numpy as np
import pytest
import torch

from pgm_ppl.backend import BACKENDS, dist, ops, to_numpy, use_backend

EMISSION = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])


def _log_prob(backend, x, transition=np.eye(2)):
    with use_backend(backend), np.errstate(divide="ignore"):
        d = dist.HiddenMarkovModel(ops.asarray(np.log([0.5, 0.5])), ops.asarray(np.log(transition)),
                                   dist.Categorical(ops.asarray(EMISSION)), len(x))
        value = ops.asarray(np.asarray(x))
        return float(to_numpy(d.log_prob(value) if backend == "pyro" else jax.jit(d.log_prob)(value)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_identity_transition_with_minus_infinity_logits_gives_log_quarter(backend):
    # z stays where it starts; each of x = (0, 1) has probability 1/2 in either state: p = 1/4
    assert abs(_log_prob(backend, [0, 1]) - np.log(0.25)) < 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_impossible_symbol_scores_minus_infinity(backend):
    assert _log_prob(backend, [0, 2]) == -np.inf  # not torch's clipped log(1e-16) = -36.7


def test_both_backends_agree_exactly_at_zero_probabilities():
    left_to_right = np.array([[0.5, 0.5], [0.0, 1.0]])
    for x in ([0, 1], [1, 1, 0], [0, 2, 1]):
        values = [_log_prob(b, x, left_to_right) for b in BACKENDS]
        assert values[0] == pytest.approx(values[1], abs=1e-12) or values[0] == values[1] == -np.inf


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_logits_are_refused(backend):
    with use_backend(backend), pytest.raises(ValueError, match="transition_logits"):
        dist.HiddenMarkovModel(ops.asarray(np.log([0.5, 0.5])), ops.asarray(np.full((2, 2), np.nan)),
                               dist.Categorical(ops.asarray(EMISSION)), 2, validate_args=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_left_to_right_chain_samples_never_move_backwards(backend):
    with use_backend(backend), np.errstate(divide="ignore"):
        d = dist.HiddenMarkovModel(ops.asarray(np.log([1.0, 0.0])), ops.asarray(np.log([[0.5, 0.5], [0.0, 1.0]])),
                                   dist.Normal(ops.asarray([0.0, 10.0]), ops.asarray([0.1, 0.1])), 6)
        if backend == "pyro":
            with torch.random.fork_rng():
                torch.manual_seed(0)
                x = to_numpy(d.sample((200,)))
        else:
            x = to_numpy(d.sample(jax.random.PRNGKey(0), (200,)))
    z = (x > 5).astype(int)
    assert (z[:, 0] == 0).all() and (np.diff(z, axis=1) >= 0).all()
