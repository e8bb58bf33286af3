"""Decoding rules: temperature, top-k, top-p, greedy, ancestral sampling, beam search."""

import itertools
import re

import numpy as np
import pytest
import scipy.stats
import torch

from pgm_ppl.sequence import (beam_search, empirical_entropy, filter_logits, generate, next_token_probabilities,
                              transformer_lm)


@pytest.fixture(scope="module")
def lm():
    return transformer_lm(3, context_length=6, embed_dim=8, num_heads=2, seed=4).double()


LOGITS = torch.log(torch.tensor([0.05, 0.4, 0.1, 0.25, 0.2], dtype=torch.float64))


def test_top_k_one_and_zero_temperature_are_greedy(lm):
    greedy = generate(lm, [0], 6, greedy=True, seed=0)
    assert torch.equal(generate(lm, [0], 6, top_k=1, seed=5), greedy)
    assert torch.equal(generate(lm, [0], 6, temperature=0.0, seed=6), greedy)
    assert torch.equal(generate(lm, [0], 6, temperature=1e-4, seed=7), greedy)  # the limit T -> 0
    assert torch.equal(beam_search(lm, [0], 6, beam_width=1).sequences[0], greedy[0])


def test_top_k_keeps_the_k_largest():
    probs = next_token_probabilities(LOGITS, top_k=2)
    expected = torch.tensor([0, 0.4, 0, 0.25, 0], dtype=torch.float64) / 0.65
    torch.testing.assert_close(probs, expected)


@pytest.mark.parametrize("p, kept", [
    (0.0, [1]),           # p = 0 keeps the most probable token only
    (0.3, [1]),           # 0.4 >= 0.3
    (0.4, [1]),           # the boundary: 0.4 reaches p exactly, nothing more is needed
    (0.41, [1, 3]),       # 0.4 < 0.41 <= 0.65: the boundary token 3 is included
    (0.65, [1, 3]),
    (0.85, [1, 3, 4]),
    (0.9, [1, 3, 4, 2]),
    (1.0, [1, 3, 4, 2, 0]),
])
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept):
    probs = next_token_probabilities(LOGITS.log_softmax(-1), top_p=p)
    support = torch.nonzero(probs > 0).flatten().tolist()
    assert sorted(support) == sorted(kept)
    assert torch.isfinite(probs).all() and abs(probs.sum().item() - 1) < 1e-12
    base = torch.softmax(LOGITS, -1)
    torch.testing.assert_close(probs[kept], base[kept] / base[kept].sum())


def test_rules_compose_temperature_then_top_k_then_top_p():
    T, k, p = 2.0, 3, 0.5
    tempered = torch.softmax(LOGITS / T, -1)
    top3 = tempered.topk(k).indices
    renorm = torch.zeros_like(tempered)
    renorm[top3] = tempered[top3] / tempered[top3].sum()
    order = renorm.argsort(descending=True)
    before = renorm[order].cumsum(0) - renorm[order]
    keep = order[before < p]
    expected = torch.zeros_like(renorm)
    expected[keep] = renorm[keep] / renorm[keep].sum()
    torch.testing.assert_close(next_token_probabilities(LOGITS, temperature=T, top_k=k, top_p=p), expected)


def test_never_nan_with_extreme_logits():
    logits = torch.tensor([[-1e30, 1e30, 0.0], [float("-inf"), 3.0, float("-inf")]])
    for rule in ({"top_p": 0.0}, {"top_p": 1.0}, {"temperature": 1e-8}, {"top_k": 1, "top_p": 0.3}):
        probs = next_token_probabilities(logits, **rule)
        assert torch.isfinite(probs).all() and torch.allclose(probs.sum(-1), torch.ones(2))


def test_sampling_frequencies_match_the_filtered_distribution(lm):
    """Chi-square goodness of fit of 4,000 first tokens against the filtered, renormalised next-token law
    (failure rate 1e-3 by construction of the threshold)."""
    rule = {"temperature": 1.5, "top_k": 2}
    draws = generate(lm, [1, 2], 1, num_samples=4000, seed=11, **rule)[:, -1]
    with torch.no_grad():
        logits = lm(torch.tensor([[lm.bos, 1, 2]]))[0][0, -1]
    probs = next_token_probabilities(logits, **rule).numpy()
    support = probs > 0
    counts = np.bincount(draws.numpy(), minlength=3)
    assert np.all(counts[~support] == 0)
    statistic, p_value = scipy.stats.chisquare(counts[support], 4000 * probs[support])
    assert p_value > 1e-3


def test_beam_search_finds_the_most_probable_sequence_by_brute_force(lm):
    prompt, n = [2], 4
    everything = torch.tensor([[2, *rest] for rest in itertools.product(range(3), repeat=n)])
    with torch.no_grad():
        joint = lm.token_log_probs(everything)[:, 1:].sum(-1)  # log p(new tokens | prompt)
    best = joint.argmax()
    result = beam_search(lm, prompt, n, beam_width=3 ** (n - 1))  # exhaustive width
    assert torch.equal(result.sequences[0], everything[best])
    assert result.log_probs[0].item() == pytest.approx(joint[best].item(), abs=1e-10)
    assert torch.all(result.log_probs[:-1] >= result.log_probs[1:])
    narrow = beam_search(lm, prompt, n, beam_width=3)
    assert narrow.log_probs[0] <= result.log_probs[0] + 1e-12


def test_generation_is_seeded(lm):
    a = generate(lm, None, 10, num_samples=3, seed=1)
    assert torch.equal(a, generate(lm, None, 10, num_samples=3, seed=1))
    assert not torch.equal(a, generate(lm, None, 10, num_samples=3, seed=2))


def test_greedy_text_has_lower_entropy_than_ancestral(lm):
    greedy = generate(lm, [0], 300, greedy=True, seed=0)[0].numpy()
    sampled = generate(lm, [0], 300, seed=0)[0].numpy()
    assert empirical_entropy(greedy, order=1) < empirical_entropy(sampled, order=1)
    iid = np.random.default_rng(0).integers(0, 4, 20_000)
    assert empirical_entropy(iid) == pytest.approx(np.log(4), abs=0.01)  # plug-in of a uniform law


@pytest.mark.parametrize("rule, message", [
    ({"temperature": -1.0}, "temperature: expected a finite number >= 0, got -1.0."),
    ({"top_k": 0}, "top_k: expected an integer >= 1, got 0."),
    ({"top_p": 1.5}, "top_p: expected"),
])
def test_rule_errors(rule, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        filter_logits(LOGITS, **rule)


def test_prompt_errors(lm):
    with pytest.raises(ValueError, match=re.escape("prompt: expected token ids in [0, 2], got values in [0, 7].")):
        generate(lm, [0, 7], 3)
