r"""k-gram (order-:math:`k` Markov) language models from counts (course §7.2).

An order-:math:`k` model conditions each token on the :math:`k` before it,
:math:`p(x_{1:N}) \approx \prod_n p(x_n \mid x_{n-k:n-1})`, one categorical law per context: a table
:math:`T \in [0,1]^{|V|^k \times |V|}` whose maximum-likelihood estimate is the normalised count table

.. math::
    \hat T_{cv} = \frac{N(c, v)}{\sum_{v'} N(c, v')},

with :math:`|V|^{k+1}` entries (:math:`|V|^k(|V|-1)` free): the curse of dimensionality the notes stress. Most
contexts are never seen in a finite corpus, and a single unseen transition gives a test NLL of :math:`+\infty`.
Two smoothers that the notes do not cover are offered as documented extras:

- **add-k** (Laplace for :math:`k=1`): :math:`(N(c,v) + \alpha)/(N(c) + \alpha|V|)`, ``pseudocount`` = :math:`\alpha`;
- **interpolated Kneser-Ney** [ChenGoodman1999]_ with absolute discount :math:`D`:
  :math:`P_j(v\mid c) = \frac{\max(C_j(c,v) - D, 0) + D\,N_{1+}(c\,\bullet)\,P_{j-1}(v\mid c')}{C_j(c)}` where
  :math:`c'` drops the oldest symbol, :math:`C_k` are counts, :math:`C_j` (:math:`j<k`) continuation counts (the
  number of distinct symbols seen before :math:`c\,v`), and :math:`P_{-1} = 1/|V|`; an unseen context uses
  :math:`P_{j-1}` alone.

The first :math:`k` tokens of a sequence have no full context and are not scored: every per-token quantity here
is over tokens :math:`k+1..N`.

References
----------
.. [ChenGoodman1999] S. F. Chen and J. Goodman, "An empirical study of smoothing techniques for language
   modeling", Computer Speech & Language 13 (1999), section 2.7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgm_ppl.core.validation import check_choice, check_data, check_int, check_positive

__all__ = ["KGram", "fit_kgram"]

SMOOTHINGS = ("mle", "add_k", "kneser_ney")
MAX_TABLE_ENTRIES = 20_000_000  # |V|^(k+1) float64 entries held densely (160 MB)


@dataclass(frozen=True)
class KGram:
    """A fitted order-``order`` k-gram model: ``table[c, v]`` = :math:`p(v \\mid c)`, shape ``(V**order, V)``.

    ``counts`` are the raw counts :math:`N(c, v)` of the training tokens. An unseen context's row under
    ``smoothing="mle"`` is uniform (the MLE is undefined there).
    """

    order: int
    table: np.ndarray
    counts: np.ndarray
    smoothing: str

    @property
    def vocab_size(self) -> int:
        return self.table.shape[1]

    @property
    def num_parameters(self) -> int:
        """:math:`|V|^{k+1}`, the entries of the table (:attr:`num_free_parameters` of them free)."""
        return self.vocab_size ** (self.order + 1)

    @property
    def num_free_parameters(self) -> int:
        """:math:`|V|^k (|V| - 1)`: each row sums to one."""
        return self.vocab_size ** self.order * (self.vocab_size - 1)

    @property
    def seen_fraction(self) -> float:
        """Fraction of the :math:`|V|^k` contexts that occur in the training tokens (sparsity)."""
        return float(np.mean(self.counts.sum(axis=1) > 0))

    def contexts(self, ids: np.ndarray) -> np.ndarray:
        """Context index of every token from position ``order`` on, shape ``(len(ids) - order,)``."""
        return _context_index(ids, self.order, self.vocab_size)

    def token_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """:math:`\\log p(x_n \\mid x_{n-k:n-1})` for n = k+1..N, shape ``(N - k,)``, nats (``-inf`` if zero)."""
        ids = _check_ids(ids, self.vocab_size, "ids", minimum=self.order + 1)
        with np.errstate(divide="ignore"):
            return np.log(self.table[self.contexts(ids), ids[self.order:]])

    def nll(self, ids: np.ndarray) -> float:
        """Mean per-token negative log-likelihood (nats) of tokens k+1..N of ``ids``."""
        return float(-self.token_log_probs(ids).mean())

    def sample(self, num_time_steps: int, *, seed: int = 0, prompt: np.ndarray | None = None) -> np.ndarray:
        """Ancestral draws: ``prompt`` (at least ``order`` ids; default: a context drawn from the training counts)
        followed by generated tokens, ``num_time_steps`` ids in all."""
        num_time_steps = check_int(num_time_steps, "num_time_steps", minimum=self.order + 1)
        rng = np.random.default_rng(seed)
        V, k = self.vocab_size, self.order
        if prompt is None and k == 0:
            prompt = np.zeros(0, dtype=np.int64)
        elif prompt is None:
            weights = self.counts.sum(axis=1).astype(float)
            context = int(rng.choice(len(weights), p=weights / weights.sum()))
            prompt = np.array([(context // V ** (k - 1 - i)) % V for i in range(k)], dtype=np.int64)
        else:
            prompt = _check_ids(prompt, V, "prompt", minimum=max(k, 1))
        out = np.empty(max(num_time_steps, len(prompt)), dtype=np.int64)
        out[:len(prompt)] = prompt
        cumulative = np.cumsum(self.table, axis=1)
        context = int(_context_index(out[len(prompt) - k:len(prompt)], k, V, with_last=True)[0]) if k else 0
        for t in range(len(prompt), num_time_steps):
            v = min(int(np.searchsorted(cumulative[context], rng.random(), side="right")), V - 1)
            out[t] = v
            context = (context * V) % V ** k + v if k else 0
        return out[:num_time_steps]


def _check_ids(ids: object, vocab_size: int, name: str, minimum: int = 1) -> np.ndarray:
    array = check_data(ids, name, ndim=1, min_rows=minimum, dtype=None)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name}: expected integer token ids, got dtype {array.dtype}.")
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        raise ValueError(f"{name}: expected token ids in [0, {vocab_size - 1}], got values in "
                         f"[{array.min()}, {array.max()}].")
    return array.astype(np.int64)


def _context_index(ids: np.ndarray, order: int, vocab_size: int, with_last: bool = False) -> np.ndarray:
    """Base-V index of each window of ``order`` tokens ending just before position t (t = order..N-1); with
    ``with_last`` the windows ending at the last token as well."""
    n = len(ids) - order + (1 if with_last else 0)
    index = np.zeros(max(n, 0), dtype=np.int64)
    for i in range(order):
        index = index * vocab_size + ids[i:i + n]
    return index


def fit_kgram(ids: np.ndarray, order: int, vocab_size: int | None = None, *, smoothing: str = "mle",
              pseudocount: float = 1.0, discount: float = 0.75) -> KGram:
    """Fit an order-``order`` k-gram model to a sequence of token ids by counting (see the module docstring).

    Parameters
    ----------
    ids
        Training token ids, shape ``(N,)`` with ``N > order``.
    order
        :math:`k \\ge 0` (0: a unigram model).
    vocab_size
        :math:`|V|` (default: ``ids.max() + 1``).
    smoothing
        ``"mle"`` (normalised counts), ``"add_k"`` (``pseudocount`` added to every count) or ``"kneser_ney"``
        (interpolated, absolute ``discount`` in (0, 1]).

    Raises
    ------
    ValueError
        Bad ids, an unknown ``smoothing``, or a table of more than 2e7 entries (:math:`|V|^{k+1}`).

    Examples
    --------
    >>> model = fit_kgram(np.array([0, 1, 0, 1, 1]), 1, 2)
    >>> model.table.tolist()
    [[0.0, 1.0], [0.5, 0.5]]
    """
    order = check_int(order, "order", minimum=0)
    check_choice(smoothing, "smoothing", SMOOTHINGS)
    array = check_data(ids, "ids", ndim=1, min_rows=order + 1, dtype=None)
    vocab_size = int(array.max()) + 1 if vocab_size is None else check_int(vocab_size, "vocab_size", minimum=1)
    array = _check_ids(array, vocab_size, "ids", minimum=order + 1)
    if vocab_size ** (order + 1) > MAX_TABLE_ENTRIES:
        raise ValueError(f"order: a table of |V|^(k+1) = {vocab_size}^{order + 1} entries is too large to hold "
                         f"(limit {MAX_TABLE_ENTRIES:.0e}); use a smaller order.")
    V = vocab_size
    flat = _context_index(array, order, V) * V + array[order:]
    counts = np.bincount(flat, minlength=V ** (order + 1)).reshape(V ** order, V).astype(float)
    if smoothing == "mle":
        totals = counts.sum(axis=1, keepdims=True)
        table = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / V)
    elif smoothing == "add_k":
        alpha = check_positive(pseudocount, "pseudocount")
        table = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)
    else:
        table = _kneser_ney(counts, order, V, _check_discount(discount))
    return KGram(order, table, counts, smoothing)


def _check_discount(discount: float) -> float:
    value = check_positive(discount, "discount")
    if value > 1:
        raise ValueError(f"discount: expected a number in (0, 1], got {discount!r}.")
    return value


def _kneser_ney(counts: np.ndarray, order: int, V: int, D: float) -> np.ndarray:
    """Interpolated Kneser-Ney tables from the highest-order counts down to the uniform law."""
    levels = [counts]  # C_k, then continuation counts C_{k-1}, ..., C_0
    for _ in range(order):
        upper = levels[-1]
        levels.append((upper.reshape(V, -1, V) > 0).sum(axis=0).astype(float))
    lower = np.full((1, V), 1.0 / V)
    for j, C in enumerate(reversed(levels)):  # j = 0 .. order
        totals = C.sum(axis=1, keepdims=True)
        types = (C > 0).sum(axis=1, keepdims=True)
        backoff = lower[np.arange(V ** j) % lower.shape[0]]
        safe = np.where(totals > 0, totals, 1.0)
        lower = np.where(totals > 0, (np.maximum(C - D, 0.0) + D * types * backoff) / safe, backoff)
    return lower
