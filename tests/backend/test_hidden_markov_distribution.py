"""``dist.HiddenMarkovModel`` on both backends: log p(x_{1:T}) against brute-force enumeration, the numpy
forward algorithm and Pyro's DiscreteHMM; ancestral sampling against the exact sequence probabilities."""

import itertools

import jax
import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from pgm_ppl.backend import BACKENDS, dist, ops, to_numpy, use_backend
from pgm_ppl.graphical import forward_backward

RNG = np.random.default_rng(7)
K = 3
PI = RNG.dirichlet(np.ones(K))
A = RNG.dirichlet(np.ones(K), size=K)
MU, SD = np.array([-2.0, 0.5, 2.5]), np.array([0.6, 1.0, 0.8])


def brute_force(x: np.ndarray) -> np.ndarray:
    """log p(x_{1:T}) = logsumexp over all K^T paths of log pi + sum log A + sum log N(x_t; mu, sd)."""
    num_time_steps = x.shape[-1]
    paths = np.array(list(itertools.product(range(K), repeat=num_time_steps)))  # (K^T, T)
    log_path = np.log(PI[paths[:, 0]]) + np.log(A[paths[:, :-1], paths[:, 1:]]).sum(1)
    log_emit = norm.logpdf(x[:, None, :], MU[paths], SD[paths]).sum(-1)  # (N, K^T)
    return logsumexp(log_path + log_emit, axis=1)


def log_prob(d, x):
    """``d.log_prob(x)`` as numpy; compiled once on NumPyro (eager JAX dispatches op by op)."""
    return to_numpy(d.log_prob(x) if isinstance(x, torch.Tensor) else jax.jit(d.log_prob)(x))


def sample(d, backend, shape, seed=0):
    if backend == "pyro":
        with torch.random.fork_rng():  # Pyro draws from torch's generator; seed a forked copy
            torch.manual_seed(seed)
            return to_numpy(d.sample(shape))
    return to_numpy(jax.jit(d.sample, static_argnums=1)(jax.random.PRNGKey(seed), shape))


def hmm(backend_pi=PI, backend_a=A, num_time_steps=5):
    return dist.HiddenMarkovModel(ops.log(ops.asarray(backend_pi)), ops.log(ops.asarray(backend_a)),
                                  dist.Normal(ops.asarray(MU), ops.asarray(SD)), num_time_steps)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("num_time_steps", [1, 2, 3, 5, 6])
def test_log_prob_equals_enumeration_over_paths(backend, num_time_steps):
    x = RNG.normal(scale=2.0, size=(4, num_time_steps))
    with use_backend(backend):
        d = hmm(num_time_steps=num_time_steps)
        assert tuple(d.event_shape) == (num_time_steps,) and tuple(d.batch_shape) == ()
        np.testing.assert_allclose(log_prob(d, ops.asarray(x)), brute_force(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_long_sequences_match_the_numpy_forward_algorithm(backend):
    x = RNG.normal(scale=2.0, size=(6, 137))  # odd lengths exercise the leftover of the pairwise rounds
    reference = forward_backward(np.log(PI), np.log(A), norm.logpdf(x[..., None], MU, SD)).log_likelihood
    with use_backend(backend):
        np.testing.assert_allclose(log_prob(hmm(num_time_steps=137), ops.asarray(x)), reference, rtol=1e-11)


def test_equals_pyros_discrete_hmm_with_its_initial_convention():
    """Pyro's DiscreteHMM starts one transition before x_1; a first transition whose every row is pi
    makes it our model."""
    import pyro.distributions as pdist

    x = torch.as_tensor(RNG.normal(scale=2.0, size=(5, 40)))
    transitions = torch.as_tensor(np.log(np.concatenate([np.tile(PI, (1, K, 1)), np.tile(A, (39, 1, 1))])))
    reference = pdist.DiscreteHMM(torch.zeros(K, dtype=torch.float64), transitions,
                                  pdist.Normal(torch.as_tensor(MU), torch.as_tensor(SD)).expand([40, K]))
    with use_backend("pyro"):
        np.testing.assert_allclose(hmm(num_time_steps=40).log_prob(x).numpy(), reference.log_prob(x).numpy(),
                                   rtol=1e-12)


def test_gradients_agree_across_backends():
    x = RNG.normal(scale=2.0, size=(3, 20))
    with use_backend("pyro"):
        mu = torch.tensor(MU, requires_grad=True)
        d = dist.HiddenMarkovModel(torch.log(torch.as_tensor(PI)), torch.log(torch.as_tensor(A)),
                                   dist.Normal(mu, torch.as_tensor(SD)), 20)
        d.log_prob(torch.as_tensor(x)).sum().backward()
        torch_grad = mu.grad.numpy()
    with use_backend("numpyro"):
        import jax.numpy as jnp

        def total(m):
            return dist.HiddenMarkovModel(jnp.log(PI), jnp.log(A), dist.Normal(m, SD), 20).log_prob(x).sum()

        jax_grad = np.asarray(jax.jit(jax.grad(total))(jnp.asarray(MU)))
    assert np.abs(torch_grad).max() > 1e-3
    np.testing.assert_allclose(torch_grad, jax_grad, rtol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampling_frequencies_match_sequence_probabilities(backend):
    """Categorical emissions, T=3, M=2: the 8 sequences' frequencies in 200,000 draws against
    exp(log_prob), within 5 standard errors."""
    emission = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    sequences = np.array(list(itertools.product(range(2), repeat=3)))
    num_draws = 200_000
    with use_backend(backend):
        d = dist.HiddenMarkovModel(ops.log(ops.asarray(PI)), ops.log(ops.asarray(A)),
                                   dist.Categorical(ops.asarray(emission)), 3)
        draws = sample(d, backend, (num_draws,))
        probabilities = np.exp(log_prob(d, ops.asarray(sequences)))
    assert draws.shape == (num_draws, 3)
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-12)
    frequencies = (draws @ [4, 2, 1] == np.arange(8)[:, None]).mean(1)
    standard_error = np.sqrt(probabilities * (1 - probabilities) / num_draws)
    assert np.all(np.abs(frequencies - probabilities) < 5 * standard_error)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_parameters_and_vector_emissions(backend):
    """Parameters with a batch axis and a 2-d emission (event shape (2,)): sample and log_prob shapes,
    and each batch member equals its own unbatched distribution."""
    pis = np.stack([PI, PI[::-1]])
    with use_backend(backend):
        emission = dist.Normal(ops.asarray(np.stack([MU, -MU], -1)), 1.0).to_event(1)  # batch (K,), event (2,)
        d = dist.HiddenMarkovModel(ops.log(ops.asarray(pis)), ops.log(ops.asarray(A)), emission, 4)
        assert tuple(d.batch_shape) == (2,) and tuple(d.event_shape) == (4, 2)
        assert sample(d, backend, (3,)).shape == (3, 2, 4, 2)
        x = ops.asarray(RNG.normal(size=(2, 4, 2)))
        batched = log_prob(d, x)
        single = [log_prob(dist.HiddenMarkovModel(ops.log(ops.asarray(p)), ops.log(ops.asarray(A)), emission, 4),
                           x[i]) for i, p in enumerate(pis)]
    np.testing.assert_allclose(batched, single, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_shapes_are_named(backend):
    with use_backend(backend):
        normal = dist.Normal(ops.asarray(MU), 1.0)
        with pytest.raises(ValueError, match="transition_logits must end in"):
            dist.HiddenMarkovModel(ops.zeros(K), ops.zeros((K, K + 1)), normal, 5)
        with pytest.raises(ValueError, match="must end in K=3 states"):
            dist.HiddenMarkovModel(ops.zeros(K), ops.zeros((K, K)), dist.Normal(ops.zeros(2), 1.0), 5)
        with pytest.raises(ValueError, match="axis before the states is time"):
            dist.HiddenMarkovModel(ops.zeros(K), ops.zeros((K, K)), dist.Normal(ops.zeros((4, K)), 1.0), 5)
        with pytest.raises(ValueError, match="num_time_steps must be a positive integer"):
            dist.HiddenMarkovModel(ops.zeros(K), ops.zeros((K, K)), normal, 0)
