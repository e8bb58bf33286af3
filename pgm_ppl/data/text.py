r"""Text corpora for chapter 7, all offline, and a character tokenizer.

Three kinds of text:

- **Synthetic text from a known source** (:func:`markov_chain_text`, :func:`hmm_text`): a random order-:math:`k`
  Markov chain over :math:`V` symbols or a hidden Markov model, sampled from its stationary regime, returned with
  the source's parameters so that its entropy rate, the floor of every model's test NLL, can be computed
  (:func:`pgm_ppl.sequence.markov_entropy_rate`, :func:`pgm_ppl.sequence.hmm_entropy_rate`).
- **Natural text that ships with Python** (:func:`stdlib_corpus`): the help topics of ``pydoc_data.topics``
  (about 465,000 characters of English and code), character level, cut into fixed contiguous
  train/validation/test parts. The text changes across Python versions, so the corpus records ``sys.version``
  and a SHA-256 of the text; report both with any result.
- **A user's own file** (:func:`load_text`).

:class:`CharTokenizer` maps characters to integer ids with one unknown-symbol class (id 0), from a user vocabulary
or from the characters of a text. Batches for the neural language models are rows of token ids
(:func:`sliding_windows`), integer arrays that :func:`pgm_ppl.training.train` passes to the model as int64.

This module is part of the data layer: it uses only numpy and the standard library.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CharTokenizer", "HMMSource", "MarkovSource", "TextCorpus", "context_matrix", "hmm_text", "load_text",
           "markov_chain_text", "sliding_windows", "stdlib_corpus", "text_corpus"]

UNKNOWN = "\ufffd"  # the replacement character stands for every symbol outside the vocabulary


class CharTokenizer:
    """Characters to integer ids and back, with one unknown-symbol class.

    Id 0 is the unknown symbol (shown as ``unknown``, by default U+FFFD); the vocabulary's characters get ids
    1..|V|-1 in the order given. Any character outside the vocabulary encodes to 0.

    Parameters
    ----------
    vocabulary
        The known characters (a string or an iterable of one-character strings), without duplicates.
    unknown
        The character that decodes id 0; it must not be in ``vocabulary``.

    Raises
    ------
    ValueError
        If ``vocabulary`` is empty, repeats a character, holds a string that is not one character, or contains
        ``unknown``.

    Examples
    --------
    >>> tok = CharTokenizer("ab")
    >>> tok.encode("abc").tolist(), tok.decode([1, 2, 0]), len(tok)
    ([1, 2, 0], 'ab\\ufffd', 3)
    """

    def __init__(self, vocabulary: str | Iterable[str], *, unknown: str = UNKNOWN):
        symbols = list(vocabulary)
        if not symbols:
            raise ValueError("vocabulary: expected at least one character, got an empty vocabulary.")
        bad = next((s for s in symbols if not isinstance(s, str) or len(s) != 1), None)
        if bad is not None:
            raise ValueError(f"vocabulary: expected one-character strings, got {bad!r}.")
        repeated = [s for s, c in Counter(symbols).items() if c > 1]
        if repeated:
            raise ValueError(f"vocabulary: expected distinct characters, got {repeated[0]!r} more than once.")
        if not isinstance(unknown, str) or len(unknown) != 1 or unknown in symbols:
            raise ValueError(f"unknown: expected one character outside the vocabulary, got {unknown!r}.")
        self.unknown = unknown
        self.symbols: tuple[str, ...] = (unknown, *symbols)
        self._ids = {s: i for i, s in enumerate(self.symbols)}
        self._ids.pop(unknown)  # the unknown character itself encodes to 0 via the default below

    @classmethod
    def from_text(cls, text: str, *, min_count: int = 1, unknown: str = UNKNOWN) -> CharTokenizer:
        """The characters of ``text`` seen at least ``min_count`` times, most frequent first (ties by code point)."""
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count: expected an integer >= 1, got {min_count!r}.")
        counts = Counter(text)
        counts.pop(unknown, None)
        kept = sorted((s for s, c in counts.items() if c >= min_count), key=lambda s: (-counts[s], s))
        return cls(kept, unknown=unknown)

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def vocabulary(self) -> str:
        """The known characters (ids 1..), as one string."""
        return "".join(self.symbols[1:])

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``, shape ``(len(text),)``, int64 (0 for an unknown character)."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}.")
        get = self._ids.get
        return np.fromiter((get(ch, 0) for ch in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Any) -> str:
        """The text of a sequence of ids (id 0 as the unknown character)."""
        array = np.asarray(ids).reshape(-1)
        if array.size and (array.min() < 0 or array.max() >= len(self.symbols)):
            raise ValueError(f"ids: expected token ids in [0, {len(self.symbols) - 1}], got values in "
                             f"[{array.min()}, {array.max()}].")
        return "".join(self.symbols[int(i)] for i in array)

    def to_dict(self) -> dict[str, str]:
        """What :meth:`from_dict` needs to rebuild the tokenizer (JSON-serialisable)."""
        return {"vocabulary": self.vocabulary, "unknown": self.unknown}

    @classmethod
    def from_dict(cls, state: dict[str, str]) -> CharTokenizer:
        return cls(state["vocabulary"], unknown=state["unknown"])


@dataclass(frozen=True)
class TextCorpus:
    """A character-level corpus cut into contiguous train/validation/test parts.

    ``train``, ``validation``, ``test`` are token-id arrays (int64); ``text`` the whole text; ``sha256`` the hash
    of its UTF-8 bytes and ``python`` the ``sys.version`` it was read under (record both with any result).
    """

    name: str
    text: str
    tokenizer: CharTokenizer
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    sha256: str
    python: str = field(default_factory=lambda: sys.version)

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def describe(self) -> dict[str, Any]:
        """Provenance to store beside results: name, sizes, hash, Python version."""
        return {"corpus": self.name, "sha256": self.sha256, "python": self.python, "vocab_size": self.vocab_size,
                "num_chars": len(self.text), "split": [len(self.train), len(self.validation), len(self.test)]}


def text_corpus(text: str, *, name: str = "text", split: tuple[float, float, float] = (0.8, 0.1, 0.1),
                tokenizer: CharTokenizer | None = None, max_chars: int | None = None) -> TextCorpus:
    """A :class:`TextCorpus` from a string: the first ``split[0]`` of the characters train, the next ``split[1]``
    validation, the rest test (contiguous parts: no window of text is shared between them).

    ``tokenizer`` defaults to the characters of the training part (characters first seen later map to the
    unknown class, as they would for a deployed model). ``max_chars`` keeps only the first characters.

    Raises
    ------
    ValueError
        If the text is too short (fewer than 10 characters), or ``split`` is not three positive fractions
        summing to one.
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}.")
    if max_chars is not None:
        if not isinstance(max_chars, int) or max_chars < 10:
            raise ValueError(f"max_chars: expected an integer >= 10 or None, got {max_chars!r}.")
        text = text[:max_chars]
    if len(text) < 10:
        raise ValueError(f"text: expected at least 10 characters, got {len(text)}.")
    fractions = np.asarray(split, dtype=float)
    if fractions.shape != (3,) or np.any(fractions <= 0) or abs(fractions.sum() - 1) > 1e-9:
        raise ValueError(f"split: expected three positive fractions summing to 1 (train, validation, test), "
                         f"got {split!r}.")
    ends = np.round(np.cumsum(fractions)[:2] * len(text)).astype(int)
    tokenizer = tokenizer if tokenizer is not None else CharTokenizer.from_text(text[:ends[0]])
    ids = tokenizer.encode(text)
    return TextCorpus(name, text, tokenizer, ids[:ends[0]], ids[ends[0]:ends[1]], ids[ends[1]:],
                      hashlib.sha256(text.encode("utf-8")).hexdigest())


def stdlib_corpus(*, split: tuple[float, float, float] = (0.8, 0.1, 0.1), max_chars: int | None = None,
                  tokenizer: CharTokenizer | None = None) -> TextCorpus:
    """The help topics of Python's ``pydoc_data.topics``, concatenated in sorted topic order, as a corpus.

    About 465,000 characters (Python 3.11), about 100 distinct symbols. The text depends on the Python version:
    the corpus records ``sys.version`` and the text's SHA-256 (:meth:`TextCorpus.describe`).

    Examples
    --------
    >>> corpus = stdlib_corpus(max_chars=20_000)
    >>> len(corpus.train), len(corpus.validation), len(corpus.test)
    (16000, 2000, 2000)
    """
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[key].strip() for key in sorted(topics))
    return text_corpus(text, name="pydoc_data.topics", split=split, tokenizer=tokenizer, max_chars=max_chars)


def load_text(path: str | Path, *, encoding: str = "utf-8", split: tuple[float, float, float] = (0.8, 0.1, 0.1),
              tokenizer: CharTokenizer | None = None, max_chars: int | None = None) -> TextCorpus:
    """A user's text file as a character-level :class:`TextCorpus` (see :func:`text_corpus`).

    Raises
    ------
    ValueError
        If the file does not exist, cannot be decoded with ``encoding`` (the message gives the byte offset), or is
        too short.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: expected a text file, got {'a directory' if path.is_dir() else 'no such file'}.")
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: expected {encoding} text, got an undecodable byte at offset {error.start}; "
                         "pass encoding='latin-1' (or the file's encoding).") from error
    return text_corpus(text, name=path.name, split=split, tokenizer=tokenizer, max_chars=max_chars)


def sliding_windows(ids: Any, length: int, *, stride: int | None = None) -> np.ndarray:
    """Rows of ``length`` consecutive token ids, starting every ``stride`` tokens (default: ``length``, disjoint).

    The training batches of the neural language models: with ``length = context + 1`` each row is one sequence
    whose every token is scored given the ones before it in the row.

    Returns
    -------
    numpy.ndarray
        Shape ``(num_windows, length)``, int64; a copy (rows may overlap in the source).

    Raises
    ------
    ValueError
        If ``ids`` is not 1-D or is shorter than ``length``, or ``length``/``stride`` is not a positive integer.
    """
    ids = np.asarray(ids)
    stride = length if stride is None else stride
    for name, value in (("length", length), ("stride", stride)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}.")
    if ids.ndim != 1 or len(ids) < length:
        raise ValueError(f"ids: expected a 1-D sequence of at least length={length} token ids, got shape "
                         f"{ids.shape}.")
    starts = np.arange(0, len(ids) - length + 1, stride)
    return np.lib.stride_tricks.sliding_window_view(ids, length)[starts].astype(np.int64)


# --- synthetic sources with known entropy rates -----------------------------------------------------------------

@dataclass(frozen=True)
class MarkovSource:
    r"""An order-:math:`k` Markov chain on :math:`V` symbols: ``transition[c, v]`` = :math:`p(x_t = v \mid
    x_{t-k:t-1} = c)`, the context ``c`` read as a base-:math:`V` number with the oldest symbol most
    significant; ``stationary[c]`` the stationary law of the context (shape ``(V**k,)``)."""

    transition: np.ndarray
    stationary: np.ndarray
    order: int

    @property
    def num_symbols(self) -> int:
        return self.transition.shape[1]


@dataclass(frozen=True)
class HMMSource:
    """A hidden Markov model: ``initial`` (K,), ``transition`` (K, K) rows current state, ``emission`` (K, V)."""

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    @property
    def num_symbols(self) -> int:
        return self.emission.shape[1]


def _check_sizes(**sizes: Any) -> None:
    for name, (value, minimum) in sizes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}.")


def _stationary(matrix: np.ndarray) -> np.ndarray:
    """The stationary law of a row-stochastic matrix (left eigenvector of eigenvalue 1, by a linear solve)."""
    n = matrix.shape[0]
    system = np.vstack([matrix.T - np.eye(n), np.ones((1, n))])
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def context_matrix(transition: np.ndarray, order: int) -> np.ndarray:
    """The (V^k, V^k) transition matrix of the context chain of an order-k chain (k >= 1)."""
    contexts, V = transition.shape
    matrix = np.zeros((contexts, contexts))
    rows = np.arange(contexts)
    for v in range(V):
        matrix[rows, (rows * V) % contexts + v] += transition[:, v]
    return matrix


def markov_chain_text(num_symbols: int = 4, order: int = 2, num_time_steps: int = 10_000, *,
                      concentration: float = 0.5, seed: int = 0,
                      source: MarkovSource | None = None) -> tuple[np.ndarray, MarkovSource]:
    r"""Token ids drawn from a random order-``order`` Markov chain, started in its stationary law.

    Each context's next-symbol law is drawn from a symmetric Dirichlet(``concentration``) (small values give
    peaked, low-entropy rows), unless ``source`` gives the chain (to draw a test sequence from the same chain).

    Returns
    -------
    ids, source
        ``ids`` shape ``(num_time_steps,)`` int64; the :class:`MarkovSource`.
    """
    _check_sizes(num_symbols=(num_symbols, 2), order=(order, 1), num_time_steps=(num_time_steps, order + 1))
    if not np.isfinite(concentration) or concentration <= 0:
        raise ValueError(f"concentration: expected a positive number, got {concentration!r}.")
    rng = np.random.default_rng(seed)
    if source is None:
        transition = rng.dirichlet(np.full(num_symbols, float(concentration)), size=num_symbols ** order)
        transition = np.maximum(transition, 1e-12)
        transition /= transition.sum(axis=1, keepdims=True)
        source = MarkovSource(transition, _stationary(context_matrix(transition, order)), order)
    V, k, T = source.num_symbols, source.order, source.transition
    contexts = V ** k
    context = int(rng.choice(contexts, p=source.stationary))
    ids = np.empty(num_time_steps, dtype=np.int64)
    ids[:k] = [(context // V ** (k - 1 - i)) % V for i in range(k)]
    cumulative = np.cumsum(T, axis=1)
    uniforms = rng.random(num_time_steps)
    for t in range(k, num_time_steps):
        v = min(int(np.searchsorted(cumulative[context], uniforms[t], side="right")), V - 1)
        ids[t] = v
        context = (context * V) % contexts + v
    return ids, source


def hmm_text(num_states: int = 3, num_symbols: int = 6, num_time_steps: int = 10_000, *,
             concentration: float = 0.3, seed: int = 0,
             source: HMMSource | None = None) -> tuple[np.ndarray, HMMSource]:
    """Token ids emitted by a random hidden Markov model started in its stationary state law.

    Transition rows are Dirichlet(1) plus a self-transition bonus (sticky states), emission rows
    Dirichlet(``concentration``); ``source`` reuses a given model instead.

    Returns
    -------
    ids, source
        ``ids`` shape ``(num_time_steps,)`` int64; the :class:`HMMSource`.
    """
    _check_sizes(num_states=(num_states, 1), num_symbols=(num_symbols, 2), num_time_steps=(num_time_steps, 1))
    if not np.isfinite(concentration) or concentration <= 0:
        raise ValueError(f"concentration: expected a positive number, got {concentration!r}.")
    rng = np.random.default_rng(seed)
    if source is None:
        transition = rng.dirichlet(np.ones(num_states), size=num_states) + 2.0 * np.eye(num_states)
        transition /= transition.sum(axis=1, keepdims=True)
        emission = rng.dirichlet(np.full(num_symbols, float(concentration)), size=num_states)
        emission = np.maximum(emission, 1e-12)
        emission /= emission.sum(axis=1, keepdims=True)
        source = HMMSource(_stationary(transition), transition, emission)
    K, V = source.transition.shape[0], source.num_symbols
    state_cdf, emit_cdf = np.cumsum(source.transition, axis=1), np.cumsum(source.emission, axis=1)
    z = int(rng.choice(K, p=source.initial))
    u = rng.random((num_time_steps, 2))
    ids = np.empty(num_time_steps, dtype=np.int64)
    for t in range(num_time_steps):
        if t:
            z = min(int(np.searchsorted(state_cdf[z], u[t, 0], side="right")), K - 1)
        ids[t] = min(int(np.searchsorted(emit_cdf[z], u[t, 1], side="right")), V - 1)
    return ids, source
