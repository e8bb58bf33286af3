r"""Entropy rates of the synthetic sources: the floor of every model's test NLL (course §7.1-7.2).

For a stationary source the per-token cross-entropy of any model :math:`q`,
:math:`\lim_T -\tfrac1T\,\mathbb E_p\log q(x_{1:T})`, is at least the entropy rate

.. math::
    H(\mathcal X) = \lim_{T\to\infty} \tfrac1T H(x_{1:T}) = \lim_{t\to\infty} H(x_t \mid x_{1:t-1}),

with equality only for :math:`q = p`. A model whose held-out NLL falls below it by more than the sampling error has
seen the test data (a leak detector). For an order-:math:`k` chain with context law :math:`\pi` and transition
table :math:`T` the rate is exact, :math:`-\sum_c \pi(c) \sum_v T_{cv}\log T_{cv}`; for a hidden Markov model it
has no closed form and is estimated from the forward algorithm (Shannon-McMillan-Breiman:
:math:`-\tfrac1T \log p(x_{1:T}) \to H` almost surely).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pgm_ppl.backend.hidden_markov import forward, numpy_ops
from pgm_ppl.core.validation import check_int
from pgm_ppl.data.text import HMMSource, MarkovSource, hmm_text

__all__ = ["EntropyRate", "context_law", "hmm_entropy_rate", "markov_cross_entropy", "markov_entropy_rate"]


class EntropyRate(NamedTuple):
    """An entropy rate in nats per token and its Monte Carlo standard error (0 when exact)."""

    value: float
    standard_error: float

    @property
    def bits(self) -> float:
        """The rate in bits per token."""
        return self.value / np.log(2.0)


def context_law(source: MarkovSource, length: int) -> np.ndarray:
    """The stationary law of ``length`` consecutive symbols, shape ``(V**length,)`` (oldest symbol most significant).

    Shorter than the chain's order: a marginal of its stationary context law; longer: extended by the
    transition table, :math:`\\pi(c, v) = \\pi(c)\\,T_{c_{-k:}, v}`.
    """
    length = check_int(length, "length", minimum=0)
    V, k = source.num_symbols, source.order
    law = source.stationary
    if length <= k:
        return law.reshape(V ** length, -1).sum(axis=1) if length else np.ones(1)
    for _ in range(length - k):
        contexts = law.shape[0]
        law = (law[:, None] * source.transition[np.arange(contexts) % V ** k]).reshape(-1)
    return law


def markov_entropy_rate(source: MarkovSource) -> EntropyRate:
    r"""The exact entropy rate of an order-:math:`k` chain, :math:`-\sum_c \pi(c)\sum_v T_{cv}\log T_{cv}`, nats/token.

    Examples
    --------
    >>> from pgm_ppl.data.text import markov_chain_text
    >>> _, source = markov_chain_text(2, 1, 10, seed=0)
    >>> round(markov_entropy_rate(source).standard_error, 3)
    0.0
    """
    T = source.transition
    per_context = -np.sum(T * np.log(np.where(T > 0, T, 1.0)), axis=1)
    return EntropyRate(float(source.stationary @ per_context), 0.0)


def markov_cross_entropy(source: MarkovSource, table: np.ndarray) -> float:
    r"""The exact per-token cross-entropy :math:`-\sum_{c}\pi(c)\sum_v T_{cv}\log Q_{c'v}` of an order-:math:`m`
    table ``Q`` (shape ``(V**m, V)``, e.g. a fitted k-gram) against the chain, in nats; ``c'`` is the last ``m``
    symbols of the context. It equals :func:`markov_entropy_rate` plus the expected KL divergence of the rows, so
    it is never below the rate.

    Raises
    ------
    ValueError
        If ``table`` is not ``(V**m, V)`` for some ``m >= 0`` with the chain's ``V``.
    """
    table = np.asarray(table, dtype=float)
    V, k = source.num_symbols, source.order
    m = int(round(np.log(table.shape[0]) / np.log(V))) if table.ndim == 2 and table.shape[0] else -1
    if table.ndim != 2 or table.shape[1] != V or m < 0 or V ** m != table.shape[0]:
        raise ValueError(f"table: expected shape (V**m, V) with V={V}, got {table.shape}.")
    length = max(k, m)
    law = context_law(source, length)
    contexts = np.arange(V ** length)
    true_rows = source.transition[contexts % V ** k]
    model_rows = table[contexts % V ** m]
    with np.errstate(divide="ignore"):
        log_q = np.log(model_rows)
    terms = np.where(true_rows > 0, true_rows * -log_q, 0.0)
    return float(law @ terms.sum(axis=1))


def hmm_entropy_rate(source: HMMSource, *, num_time_steps: int = 5000, num_sequences: int = 8, burn_in: int = 200,
                     seed: int = 0) -> EntropyRate:
    r"""The entropy rate of a stationary hidden Markov model by the forward algorithm, nats per token.

    Draws ``num_sequences`` independent sequences from the model, runs the forward recursion of
    :func:`pgm_ppl.backend.hidden_markov.forward` (the one used by :mod:`pgm_ppl.graphical`) and averages
    :math:`-\log p(x_t \mid x_{1:t-1})` over :math:`t >` ``burn_in`` (the filter has forgotten its start, so each
    term is the rate's conditional entropy up to a geometrically small excess). The standard error is that of the
    mean over the independent sequences.

    Raises
    ------
    ValueError
        If ``num_time_steps <= burn_in`` or a count is not a positive integer.
    """
    num_sequences = check_int(num_sequences, "num_sequences", minimum=2)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    num_time_steps = check_int(num_time_steps, "num_time_steps", minimum=burn_in + 2)
    log_initial, log_transition = np.log(source.initial), np.log(source.transition)
    rates = []
    for i in range(num_sequences):
        ids, _ = hmm_text(num_time_steps=num_time_steps, seed=np.random.SeedSequence([seed, i]),
                          source=source)
        log_emission = np.log(source.emission[:, ids].T)  # (T, K)
        _, log_p = forward(numpy_ops, log_initial, log_transition, log_emission, keep_all=True)
        rates.append(-(log_p[-1] - log_p[burn_in]) / (num_time_steps - 1 - burn_in))
    rates = np.asarray(rates)
    return EntropyRate(float(rates.mean()), float(rates.std(ddof=1) / np.sqrt(len(rates))))
