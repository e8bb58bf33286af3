"""k-gram models and entropy rates against counts, brute force and the chain's known law."""

import itertools
import re
from collections import Counter, defaultdict

import numpy as np
import pytest

from pgm_ppl.backend.hidden_markov import log_likelihood, numpy_ops
from pgm_ppl.data.text import hmm_text, markov_chain_text
from pgm_ppl.sequence import (context_law, fit_kgram, hmm_entropy_rate, markov_cross_entropy, markov_entropy_rate,
                              score)


@pytest.fixture(scope="module")
def chain():
    train, source = markov_chain_text(4, 2, 30_000, seed=0, concentration=1.0)
    test, _ = markov_chain_text(num_time_steps=20_000, seed=1, source=source)
    return train, test, source


def test_mle_is_normalised_counts():
    ids = np.random.default_rng(0).integers(0, 3, size=500)
    model = fit_kgram(ids, 2, 3)
    counts = defaultdict(Counter)
    for a, b, c in zip(ids, ids[1:], ids[2:]):
        counts[(a, b)][c] += 1
    for (a, b), row in counts.items():
        total = sum(row.values())
        for c in range(3):
            assert model.table[a * 3 + b, c] == pytest.approx(row[c] / total)
    assert model.num_parameters == 27 and model.num_free_parameters == 18


def test_add_k_formula_and_normalisation():
    ids = np.array([0, 1, 1, 2, 0, 1])
    model = fit_kgram(ids, 1, 4, smoothing="add_k", pseudocount=0.5)
    np.testing.assert_allclose(model.table.sum(axis=1), 1.0)
    # context 1 is followed by 1 and 2 once each: (1 + 0.5) / (2 + 0.5 * 4)
    assert model.table[1, 1] == pytest.approx(1.5 / 4.0)
    assert model.table[3].tolist() == [0.25] * 4  # an unseen context is uniform


def _kneser_ney_reference(ids, order, V, D):
    """Interpolated Kneser-Ney written recursively with dictionaries (Chen & Goodman 1999, eq. 26)."""
    grams = [Counter(tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)) for n in range(order + 2)]

    def count(level, context, v):  # highest order: counts; lower: continuation counts N1+(. context v)
        if level == order:
            return grams[order + 1][(*context, v)]
        return sum(1 for w in range(V) if grams[level + 2][(w, *context, v)] > 0)

    def prob(level, context, v):  # level j uses the last j symbols of the context
        counts = [count(level, context, u) for u in range(V)]
        total = sum(counts)
        backoff = 1.0 / V if level == 0 else prob(level - 1, context[1:], v)
        if total == 0:
            return backoff
        types = sum(c > 0 for c in counts)
        return (max(counts[v] - D, 0) + D * types * backoff) / total

    return np.array([[prob(order, ctx, v) for v in range(V)] for ctx in itertools.product(range(V), repeat=order)])


def test_kneser_ney_matches_a_recursive_reference_and_sums_to_one():
    ids = np.random.default_rng(3).integers(0, 3, size=200)
    ids[50:60] = 0  # make some contexts frequent and some transitions unseen
    model = fit_kgram(ids, 2, 3, smoothing="kneser_ney", discount=0.75)
    reference = _kneser_ney_reference(ids.tolist(), 2, 3, 0.75)
    np.testing.assert_allclose(model.table, reference, atol=1e-12)
    np.testing.assert_allclose(model.table.sum(axis=1), 1.0, atol=1e-12)


def test_markov_entropy_rate_equals_brute_force_conditional_entropy():
    """For an order-2 chain started stationary, H(x_3 | x_1, x_2) = H(x_1:3) - H(x_1:2) is the rate exactly."""
    _, source = markov_chain_text(3, 2, 10, seed=4)

    def block_entropy(n):
        law = context_law(source, n)
        return -(law * np.log(law)).sum()

    assert markov_entropy_rate(source).value == pytest.approx(block_entropy(3) - block_entropy(2), rel=1e-10)
    # and again at length 5 (stationarity): H(x_5 | x_1:4) is the same
    assert markov_entropy_rate(source).value == pytest.approx(block_entropy(5) - block_entropy(4), rel=1e-10)


def test_cross_entropy_of_the_true_table_is_the_rate_and_others_exceed_it(chain):
    _, _, source = chain
    rate = markov_entropy_rate(source).value
    assert markov_cross_entropy(source, source.transition) == pytest.approx(rate, rel=1e-12)
    other = np.full_like(source.transition, 0.25)
    assert markov_cross_entropy(source, other) == pytest.approx(np.log(4))
    unigram = context_law(source, 1)[None, :]  # order 0: the marginal, cross-entropy = H(x_t) >= rate
    assert markov_cross_entropy(source, unigram) > rate


def test_test_nll_approaches_the_rate_from_above_leak_detector(chain):
    """Every smoother's test NLL is at least the entropy rate minus 3 standard errors; the add-k fit of the
    right order comes within 0.01 nats of it; scoring the training data with a high-order MLE table goes far below
    the floor, the leak the check is there to catch."""
    train, test, source = chain
    rate = markov_entropy_rate(source).value
    for smoothing in ("add_k", "kneser_ney"):
        for order in (1, 2, 3):
            result = score(fit_kgram(train, order, 4, smoothing=smoothing), test, entropy_floor=rate)
            assert result.nll > rate - 3 * result.standard_error, (smoothing, order)
    best = score(fit_kgram(train, 2, 4, smoothing="add_k"), test, entropy_floor=rate)
    assert best.nll - rate < 0.01
    exact = markov_cross_entropy(source, fit_kgram(train, 2, 4, smoothing="add_k").table)
    assert abs(best.nll - exact) < 3 * best.standard_error
    leaked = score(fit_kgram(train[:3000], 6, 4), train[:3000], entropy_floor=rate)
    assert leaked.above_floor < -3


def test_hmm_entropy_rate_lies_between_cover_thomas_bounds():
    """H(x_n | x_1:n-1, z_1) <= rate <= H(x_n | x_1:n-1) (Cover & Thomas, Thm 4.5.1), both by enumerating all
    sequences of length n with the forward algorithm."""
    _, source = hmm_text(2, 3, 10, seed=5)
    n = 7

    def joint_entropy(log_initial, length):
        sequences = np.array(list(itertools.product(range(3), repeat=length)))
        log_b = np.log(source.emission[:, sequences]).transpose(1, 2, 0)  # (3**length, length, K)
        log_p = log_likelihood(numpy_ops, log_initial, np.log(source.transition), log_b)
        p = np.exp(log_p)
        return -(p * log_p).sum()

    upper = joint_entropy(np.log(source.initial), n) - joint_entropy(np.log(source.initial), n - 1)
    lower = 0.0
    for k, weight in enumerate(source.initial):
        start = np.log(np.eye(2)[k] + 1e-300)
        lower += weight * (joint_entropy(start, n) - joint_entropy(start, n - 1))
    estimate = hmm_entropy_rate(source, num_time_steps=3000, num_sequences=6, seed=0)
    assert lower - 3 * estimate.standard_error <= estimate.value <= upper + 3 * estimate.standard_error
    assert upper - lower < 0.05  # the bounds are tight enough for the check to mean something


def test_kgram_errors():
    with pytest.raises(ValueError, match=re.escape("smoothing: expected one of 'mle', 'add_k', 'kneser_ney', "
                                                   "got 'laplace'.")):
        fit_kgram(np.arange(5), 1, smoothing="laplace")
    with pytest.raises(ValueError, match=re.escape("ids: expected token ids in [0, 2], got values in [0, 4].")):
        fit_kgram(np.arange(5), 1, 3)
    with pytest.raises(ValueError, match="too large to hold"):
        fit_kgram(np.arange(100), 4, 100)
    with pytest.raises(ValueError, match=re.escape("discount: expected a number in (0, 1], got 1.5.")):
        fit_kgram(np.arange(5), 1, smoothing="kneser_ney", discount=1.5)


def test_kgram_samples_follow_the_table():
    ids, source = markov_chain_text(3, 1, 20_000, seed=6)
    model = fit_kgram(ids, 1, 3)
    draws = model.sample(30_000, seed=1)
    refit = fit_kgram(draws, 1, 3)
    visits = refit.counts.sum(axis=1, keepdims=True)
    se = np.sqrt(model.table * (1 - model.table) / visits)
    assert np.all(np.abs(refit.table - model.table) < 5 * se + 1e-3)  # 5 binomial standard errors per entry
