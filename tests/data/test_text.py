"""Text corpora and the character tokenizer (pgm_ppl.data.text)."""

import hashlib
import re
import sys
from collections import Counter

import numpy as np
import pytest

from pgm_ppl.data.text import (CharTokenizer, context_matrix, hmm_text, load_text, markov_chain_text, sliding_windows,
                               stdlib_corpus, text_corpus)


def test_tokenizer_round_trip_and_unknown_class():
    tok = CharTokenizer("abc")
    assert len(tok) == 4 and tok.vocabulary == "abc"
    ids = tok.encode("abxc\ufffd")
    assert ids.tolist() == [1, 2, 0, 3, 0]  # x and the unknown character itself map to class 0
    assert ids.dtype == np.int64
    assert tok.decode(ids) == "ab\ufffdc\ufffd"
    assert CharTokenizer.from_dict(tok.to_dict()).symbols == tok.symbols


def test_tokenizer_from_text_orders_by_frequency_and_drops_rare():
    tok = CharTokenizer.from_text("aaabbc", min_count=2)
    assert tok.vocabulary == "ab"
    assert tok.encode("c").tolist() == [0]


def test_user_vocabulary_and_custom_unknown():
    tok = CharTokenizer(["x", "y"], unknown="?")
    assert tok.decode(tok.encode("xyz")) == "xy?"


@pytest.mark.parametrize("vocabulary, unknown, message", [
    ("", "\ufffd", "vocabulary: expected at least one character, got an empty vocabulary."),
    ("aa", "\ufffd", "vocabulary: expected distinct characters, got 'a' more than once."),
    (["ab"], "\ufffd", "vocabulary: expected one-character strings, got 'ab'."),
    ("ab", "a", "unknown: expected one character outside the vocabulary, got 'a'."),
])
def test_tokenizer_errors(vocabulary, unknown, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        CharTokenizer(vocabulary, unknown=unknown)


def test_decode_refuses_ids_out_of_range():
    with pytest.raises(ValueError, match=re.escape("ids: expected token ids in [0, 2], got values in [0, 5].")):
        CharTokenizer("ab").decode([0, 5])


def test_stdlib_corpus_split_hash_and_provenance():
    corpus = stdlib_corpus(max_chars=10_000)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (8000, 1000, 1000)
    assert corpus.sha256 == hashlib.sha256(corpus.text.encode()).hexdigest()
    assert corpus.python == sys.version
    assert corpus.describe()["split"] == [8000, 1000, 1000]
    # contiguous parts: train, validation and test concatenate to the whole text
    assert corpus.tokenizer.decode(np.concatenate([corpus.train, corpus.validation, corpus.test])) == \
        "".join(ch if ch in corpus.tokenizer.vocabulary else "\ufffd" for ch in corpus.text)
    assert stdlib_corpus(max_chars=10_000).sha256 == corpus.sha256  # fixed, deterministic


def test_load_text_and_errors(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("hello world, " * 20)
    corpus = load_text(path)
    assert corpus.name == "story.txt" and corpus.vocab_size == len(set("hello world, ")) + 1
    with pytest.raises(ValueError, match="no such file"):
        load_text(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc\xff" * 5)
    with pytest.raises(ValueError, match="undecodable byte at offset 3"):
        load_text(bad)
    with pytest.raises(ValueError, match=re.escape("split: expected three positive fractions summing to 1")):
        text_corpus("abcdefghijkl", split=(0.5, 0.5, 0.5))


def test_sliding_windows():
    rows = sliding_windows(np.arange(10), 4, stride=3)
    assert rows.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert sliding_windows(np.arange(9), 3).shape == (3, 3)
    with pytest.raises(ValueError, match=re.escape("ids: expected a 1-D sequence of at least length=5 token ids")):
        sliding_windows(np.arange(3), 5)


def test_markov_chain_transition_frequencies_match_the_table():
    """Empirical transition frequencies from 40,000 draws agree with the table within 5 binomial standard errors."""
    ids, source = markov_chain_text(3, 2, 40_000, seed=1)
    V, k = 3, 2
    context = ids[:-2] * V + ids[1:-1]
    counts = np.zeros((V ** k, V))
    np.add.at(counts, (context, ids[2:]), 1)
    n = counts.sum(axis=1, keepdims=True)
    se = np.sqrt(source.transition * (1 - source.transition) / n) + 1e-12
    assert np.all(np.abs(counts / n - source.transition) < 5 * se + 1e-3)
    # the stationary law of the context chain is stationary
    matrix = context_matrix(source.transition, k)
    np.testing.assert_allclose(source.stationary @ matrix, source.stationary, atol=1e-12)
    assert abs(n[:, 0] / n.sum() - source.stationary).max() < 0.02


def test_hmm_text_symbol_frequencies():
    ids, source = hmm_text(2, 3, 30_000, seed=2)
    expected = source.initial @ source.emission  # started stationary: every marginal is pi @ B
    observed = np.bincount(ids, minlength=3) / len(ids)
    assert np.abs(observed - expected).max() < 0.03
    np.testing.assert_allclose(source.initial @ source.transition, source.initial, atol=1e-12)
    assert Counter(ids.tolist()).keys() <= {0, 1, 2}
