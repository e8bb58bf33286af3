r"""Evaluating language models: per-token NLL, perplexity, bits per character, and the entropy of generated text.

For a held-out token stream :math:`x_{1:N}` and a model :math:`q`, the per-token negative log-likelihood is
:math:`\mathrm{NLL} = -\tfrac1N \sum_n \log q(x_n \mid \text{context}_n)` nats, the perplexity
:math:`e^{\mathrm{NLL}}` (the effective number of equally likely next tokens) and the bits per character
:math:`\mathrm{NLL} / \ln 2` (for a character tokenizer). On text from a source of known entropy rate :math:`H`
(:mod:`pgm_ppl.sequence.sources`) the NLL is at least :math:`H` up to sampling error: the floor every result is
reported against.

A neural model reads the stream in disjoint rows of ``context_length + 1`` tokens, each started from the
beginning-of-sequence symbol (the way it was trained), so every token is scored once, with between 0 and
``context_length`` tokens of context.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import numpy as np
import torch

from pgm_ppl.core.validation import check_data, check_int

__all__ = ["LMScore", "empirical_entropy", "score", "token_log_probs"]

LN2 = float(np.log(2.0))


class LMScore(NamedTuple):
    """Per-token NLL (nats), perplexity, bits per token, number of scored tokens, the standard error of the NLL
    (from the spread of per-row means), and the entropy-rate floor (nats; NaN if unknown)."""

    nll: float
    perplexity: float
    bits_per_token: float
    num_tokens: int
    standard_error: float
    entropy_floor: float = float("nan")

    @property
    def above_floor(self) -> float:
        """NLL minus the floor in standard errors (negative beyond a few: suspect a leak)."""
        return (self.nll - self.entropy_floor) / max(self.standard_error, 1e-12)


@torch.no_grad()
def token_log_probs(model: Any, ids: Any, *, batch_size: int = 256) -> np.ndarray:
    """:math:`\\log q(x_n \\mid \\cdot)` for the tokens of ``ids`` that fill whole rows, shape ``(num_rows, L)``.

    ``model`` is a :class:`~pgm_ppl.sequence.LanguageModel` (rows of ``L = context_length + 1`` tokens) or a
    :class:`~pgm_ppl.sequence.KGram` (one row of the tokens after the first ``order``).
    """
    array = check_data(ids, "ids", ndim=1, min_rows=2, dtype=None)
    if hasattr(model, "table"):  # a k-gram model
        return model.token_log_probs(array)[None, :]
    length = model.context_length + 1
    if array.min() < 0 or array.max() >= model.vocab_size or not np.array_equal(array, np.round(array)):
        raise ValueError(f"ids: expected integer token ids in [0, {model.vocab_size - 1}], got values in "
                         f"[{array.min()}, {array.max()}]; encode text with the model's tokenizer.")
    if len(array) < length:
        raise ValueError(f"ids: expected at least context_length + 1 = {length} tokens, got {len(array)}.")
    rows = torch.as_tensor(array[: len(array) // length * length].reshape(-1, length), dtype=torch.long)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        parts = [model.token_log_probs(chunk.to(device)).double().cpu()
                 for chunk in torch.split(rows, batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts).numpy()


def score(model: Any, ids: Any, *, entropy_floor: float | None = None, batch_size: int = 256) -> LMScore:
    """Per-token NLL, perplexity and bits per token of ``model`` on held-out ``ids`` (see the module docstring).

    ``entropy_floor`` (nats per token, e.g. :func:`~pgm_ppl.sequence.markov_entropy_rate`) is stored beside the
    result. The standard error treats the rows' mean NLLs as independent (for a k-gram, the tokens, as blocks of
    100).
    """
    log_p = token_log_probs(model, ids, batch_size=batch_size)
    if log_p.shape[0] == 1:  # one long row: standard error from blocks of 100 tokens
        flat = log_p[0]
        blocks = flat[: len(flat) // 100 * 100].reshape(-1, 100) if len(flat) >= 200 else flat[:, None]
        per_row = blocks.mean(axis=1)
    else:
        per_row = log_p.mean(axis=1)
    nll = float(-log_p.mean())
    error = float(per_row.std(ddof=1) / np.sqrt(len(per_row))) if len(per_row) > 1 else float("nan")
    return LMScore(nll, float(np.exp(nll)), nll / LN2, int(log_p.size), error,
                   float("nan") if entropy_floor is None else float(entropy_floor))


def empirical_entropy(ids: Any, *, order: int = 0) -> float:
    r"""Plug-in conditional entropy :math:`\hat H(x_t \mid x_{t-k:t-1})` of a token sequence, nats per token.

    The entropy of the empirical :math:`(k+1)`-gram law minus that of the :math:`k`-gram law, from counts; used to
    compare the text that decoding rules generate (greedy text is repetitive: low entropy). Biased low for
    short sequences and large ``order`` (few repeats of each context).
    """
    order = check_int(order, "order", minimum=0)
    array = check_data(ids, "ids", ndim=1, min_rows=order + 1, dtype=None)

    def block_entropy(k: int) -> float:
        if k == 0:
            return 0.0
        counts = np.array(list(Counter(map(tuple, np.lib.stride_tricks.sliding_window_view(array, k))).values()),
                          dtype=float)
        p = counts / counts.sum()
        return float(-(p * np.log(p)).sum())

    return block_entropy(order + 1) - block_entropy(order)
