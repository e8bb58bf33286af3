"""HMMs: forward-backward and Viterbi against brute-force enumeration; Baum-Welch monotone; sampling."""

import itertools

import numpy as np
import pytest

from pgm_ppl.graphical import CategoricalHMM, GaussianHMM, baum_welch, forward_backward, viterbi


def _random_hmm(seed, k=3, m=4):
    rng = np.random.default_rng(seed)
    return CategoricalHMM(rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), k), rng.dirichlet(np.ones(m), k))


def _enumerate(hmm, x):
    """All K^T paths: log p(x, z), log p(x), posterior marginals, pairwise counts, the best path."""
    k, t_len = hmm.num_states, len(x)
    paths = np.array(list(itertools.product(range(k), repeat=t_len)))
    log_joint = (np.log(hmm.initial[paths[:, 0]]) + np.log(hmm.transition[paths[:, :-1], paths[:, 1:]]).sum(1)
                 + np.log(hmm.emission[paths, x]).sum(1))
    log_lik = np.log(np.exp(log_joint).sum())
    w = np.exp(log_joint - log_lik)
    post = np.stack([np.bincount(paths[:, t], weights=w, minlength=k) for t in range(t_len)])
    onehot = np.eye(k)[paths]
    pairs = np.einsum("p,ptk,ptl->kl", w, onehot[:, :-1], onehot[:, 1:])
    return log_lik, post, pairs, paths[log_joint.argmax()], log_joint.max()


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_backward_and_viterbi_equal_enumeration(seed):
    hmm = _random_hmm(seed)
    _, x = hmm.sample(5, 6, seed=seed)
    fb, vit = hmm.forward_backward(x), hmm.viterbi(x)
    total_pairs = np.zeros((3, 3))
    for n in range(len(x)):
        log_lik, post, pairs, best, best_value = _enumerate(hmm, x[n])
        total_pairs += pairs
        assert abs(fb.log_likelihood[n] - log_lik) < 1e-12
        np.testing.assert_allclose(fb.posterior[n], post, atol=1e-12)
        np.testing.assert_allclose(hmm.forward_backward(x[n:n + 1]).expected_transitions, pairs, atol=1e-12)
        np.testing.assert_array_equal(vit.path[n], best)
        assert abs(vit.log_joint[n] - best_value) < 1e-12
    np.testing.assert_allclose(fb.expected_transitions, total_pairs, atol=1e-12)


def test_structural_zeros_and_extreme_emissions_stay_finite():
    """A left-to-right chain with log-emissions of -1e4: the scaled recursion does not underflow."""
    a = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    with np.errstate(divide="ignore"):
        log_a, log_pi = np.log(a), np.log([1.0, 0.0, 0.0])
    log_b = np.random.default_rng(0).normal(size=(2, 50, 3)) * 3 - 1e4
    fb = forward_backward(log_pi, log_a, log_b)
    assert np.all(np.isfinite(fb.log_likelihood))
    np.testing.assert_allclose(fb.posterior.sum(-1), 1.0, atol=1e-12)
    assert np.all(fb.posterior[:, 0, 1:] == 0.0)
    path = viterbi(log_pi, log_a, log_b).path
    assert np.all(np.diff(path, axis=1) >= 0)


def test_batched_equals_one_by_one():
    hmm = _random_hmm(3, k=4, m=5)
    _, x = hmm.sample(7, 20, seed=2)
    batch = hmm.forward_backward(x)
    for n in range(7):
        single = hmm.forward_backward(x[n:n + 1])
        np.testing.assert_allclose(single.posterior[0], batch.posterior[n], atol=1e-13)
        np.testing.assert_allclose(single.log_likelihood[0], batch.log_likelihood[n], atol=1e-10)


def test_sampling_frequencies():
    hmm = _random_hmm(4)
    z, x = hmm.sample(4000, 2, seed=5)
    n = len(z)
    freq0 = np.bincount(z[:, 0], minlength=3) / n
    assert np.all(np.abs(freq0 - hmm.initial) < 5 * np.sqrt(hmm.initial * (1 - hmm.initial) / n))
    joint = np.zeros((3, 3))
    np.add.at(joint, (z[:, 0], z[:, 1]), 1)
    expected = hmm.initial[:, None] * hmm.transition
    assert np.all(np.abs(joint / n - expected) < 5 * np.sqrt(expected * (1 - expected) / n) + 1e-12)


def test_baum_welch_categorical_monotone_and_improves():
    truth = _random_hmm(6)
    _, x = truth.sample(60, 40, seed=1)
    start = _random_hmm(99)
    res = baum_welch(start, x, max_iter=40)
    assert np.all(np.diff(res.log_likelihood) >= -1e-9 * np.abs(res.log_likelihood[1:]))
    assert res.log_likelihood[-1] > res.log_likelihood[0]
    np.testing.assert_allclose(res.model.transition.sum(1), 1.0)


def test_baum_welch_gaussian_recovers_separated_states():
    truth = GaussianHMM(np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.1, 0.9]]),
                        np.array([[-3.0], [3.0]]), np.array([[1.0], [0.5]]))
    z, x = truth.sample(30, 100, seed=0)
    start = GaussianHMM(np.array([0.5, 0.5]), np.full((2, 2), 0.5), np.array([[-1.0], [1.0]]), np.ones((2, 1)) * 4)
    res = baum_welch(start, x, max_iter=100)
    assert np.all(np.diff(res.log_likelihood) >= -1e-9 * np.abs(res.log_likelihood[1:]))
    # the states are 4 sd apart, so the posterior nearly knows them and the MLE's errors are the complete-data
    # standard errors: sd_k / sqrt(visits to k) for a mean, sqrt(A(1-A) / departures from k) for a transition
    # (was: atol 0.1 and 0.03, i.e. 4.5 s.e. for the means and 3.1 to 6.2 s.e. for the transitions)
    visits, departures = np.bincount(z.ravel(), minlength=2), np.bincount(z[:, :-1].ravel(), minlength=2)
    se_means = np.sqrt(truth.variances.ravel() / visits)
    se_transition = np.sqrt(truth.transition * (1 - truth.transition) / departures[:, None])
    assert np.all(np.abs(res.model.means.ravel() - [-3.0, 3.0]) < 4 * se_means)
    assert np.all(np.abs(res.model.transition - truth.transition) < 4 * se_transition)


def test_validation():
    with pytest.raises(ValueError, match="emission"):
        CategoricalHMM(np.ones(2) / 2, np.eye(2), np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match="symbols"):
        _random_hmm(0).forward_backward(np.array([[0, 7]]))
    with pytest.raises(ValueError, match=r"\(N, T, K\)"):
        forward_backward(np.zeros(2), np.zeros((2, 2)), np.zeros((1, 4, 3)))
