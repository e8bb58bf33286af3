"""backend.hidden_markov.forward_backward against enumeration over every state path, on and off the unshifted path.

The smoother runs first without shifting the emissions and reruns, with the max-shift, the sequences whose
per-step normalisers leave [e^-100, e^100]; both routes must give the exact smoothed marginals, expected
transition counts and log-likelihoods (closed form: the sum over all K^T paths).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pgm_ppl.backend import hidden_markov


def _enumerate(log_initial, log_transition, log_emission):
    """Posterior marginals (T, K), expected transitions (K, K) and log p(x) of one sequence by brute force."""
    t_len, k = log_emission.shape
    paths = np.array(list(itertools.product(range(k), repeat=t_len)))
    log_joint = (log_initial[paths[:, 0]] + log_transition[paths[:, :-1], paths[:, 1:]].sum(1)
                 + log_emission[np.arange(t_len), paths].sum(1))
    log_p = np.logaddexp.reduce(log_joint)
    weight = np.exp(log_joint - log_p)
    gamma = np.zeros((t_len, k))
    xi = np.zeros((k, k))
    for t in range(t_len):
        np.add.at(gamma[t], paths[:, t], weight)
        if t:
            np.add.at(xi, (paths[:, t - 1], paths[:, t]), weight)
    return gamma, xi, log_p


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(3)
    k, t_len, n = 3, 6, 5
    log_initial = np.log(rng.dirichlet(np.ones(k)))
    transition = rng.dirichlet(np.ones(k), k)
    transition[0, 2] = 0.0  # a forbidden move
    transition /= transition.sum(1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_transition = np.log(transition)
    log_emission = rng.normal(scale=2.0, size=(n, t_len, k))
    log_emission[1] -= 1000.0  # every normaliser ~ e^-1000: underflows unshifted
    log_emission[2] += 800.0  # ~ e^800: overflows unshifted
    log_emission[3, 2, 1] = -np.inf  # an impossible state at one step (zero emission probability)
    log_emission[4, :, 0] -= 900.0  # one state far below the others: stays on the unshifted route
    return log_initial, log_transition, log_emission


def test_marginals_counts_and_log_likelihood_match_enumeration(problem):
    log_initial, log_transition, log_emission = problem
    gamma, counts, log_p = hidden_markov.forward_backward(log_initial, log_transition, log_emission)
    assert gamma.shape == log_emission.shape and log_p.shape == log_emission.shape[1::-1]
    total = np.zeros_like(counts)
    for i in range(log_emission.shape[0]):
        ref_gamma, ref_xi, ref_log_p = _enumerate(log_initial, log_transition, log_emission[i])
        np.testing.assert_allclose(gamma[i], ref_gamma, rtol=1e-10, atol=1e-13)
        # relative to |log p| (~6,000 for the shifted sequences), as float64 rounding of the sum is
        np.testing.assert_allclose(log_p[-1, i], ref_log_p, rtol=1e-13, atol=1e-10)
        total += ref_xi
    np.testing.assert_allclose(counts, total, rtol=1e-10, atol=1e-13)
    assert counts[0, 2] == 0.0  # the forbidden move is never expected


def test_log_likelihood_at_every_step_matches_the_forward_recursion(problem):
    """log p(x_{1:t}) of the smoother equals forward(keep_all=True)'s, which shifts every step by the max."""
    log_initial, log_transition, log_emission = problem
    _, _, log_p = hidden_markov.forward_backward(log_initial, log_transition, log_emission)
    _, reference = hidden_markov.forward(hidden_markov.numpy_ops, log_initial, log_transition, log_emission,
                                         keep_all=True)
    np.testing.assert_allclose(log_p, reference, rtol=1e-13, atol=1e-11)


def test_time_major_and_batch_major_inputs_agree(problem):
    log_initial, log_transition, log_emission = problem
    time_major = np.ascontiguousarray(log_emission.transpose(1, 0, 2)).transpose(1, 0, 2)
    a = hidden_markov.forward_backward(log_initial, log_transition, log_emission)
    b = hidden_markov.forward_backward(log_initial, log_transition, time_major)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(time_major, log_emission)  # the input is not written to
