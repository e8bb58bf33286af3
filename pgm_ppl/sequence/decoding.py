r"""Decoding: turning next-token distributions into text (course §7.15 generation, syllabus §7.17).

Given the logits :math:`s \in \mathbb R^{|V|}` of :math:`p(x_{t+1} \mid x_{1:t})`, a decoding rule picks the next
token; the rules compose in one documented order, **temperature -> top-k -> top-p** (as Hugging Face's
``generate`` applies its logits warpers):

- *temperature* :math:`T`: :math:`\mathrm{softmax}(s / T)`; :math:`T \to 0` is greedy (``temperature=0`` keeps
  the arg-max only), :math:`T = 1` the model, :math:`T > 1` flatter;
- *top-k*: keep the :math:`k` largest logits (exactly :math:`k`: ties at the :math:`k`-th are broken by
  :func:`torch.topk`, not all kept, unlike nanoGPT's ``v[:, [-1]]`` threshold);
- *top-p* (nucleus, [Holtzman2020]_): keep the smallest set of most probable tokens whose probability (after
  the steps before) is at least :math:`p`, the token that crosses :math:`p` included; :math:`p = 0` keeps the
  most probable token only, :math:`p = 1` everything;

then renormalise and draw (*ancestral* sampling); *greedy* takes the arg-max; *beam search* keeps the
``beam_width`` most probable prefixes at each step. Every draw comes from a seeded :class:`torch.Generator`.

References
----------
.. [Holtzman2020] A. Holtzman et al., "The curious case of neural text degeneration", ICLR 2020.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from pgm_ppl.core.validation import check_int, check_positive, check_probability

__all__ = ["BeamSearchResult", "beam_search", "filter_logits", "generate", "next_token_probabilities"]


def filter_logits(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Apply temperature, then top-k, then top-p to logits ``(..., V)``; dropped tokens get ``-inf``.

    At least one token always stays (the most probable), so the softmax of the result is never NaN.

    Raises
    ------
    ValueError, TypeError
        ``temperature`` < 0, ``top_k`` not an integer >= 1, ``top_p`` outside [0, 1].
    """
    temperature = check_positive(temperature, "temperature", allow_zero=True)
    top_k = None if top_k is None else check_int(top_k, "top_k")
    top_p = None if top_p is None else check_probability(top_p, "top_p")
    return _filter(logits, temperature, top_k, top_p)


def _filter(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """:func:`filter_logits` on checked arguments (the generation loop's hot path)."""
    logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    if temperature == 0:
        keep = F.one_hot(logits.argmax(-1), logits.shape[-1]).bool()
        return logits.masked_fill(~keep, float("-inf"))
    logits = logits / temperature
    if top_k is not None:
        if top_k < logits.shape[-1]:
            index = logits.topk(top_k, dim=-1).indices
            keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, index, True)
            logits = logits.masked_fill(~keep, float("-inf"))
    if top_p is not None:
        probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True, stable=True)
        mass_before = probs.cumsum(-1) - probs
        # a mass that reaches p up to rounding (8 ulp) counts as reaching it: 0.4 + 0.25 + 0.2 is 0.85
        keep_sorted = mass_before < top_p - 8 * torch.finfo(probs.dtype).eps
        keep_sorted[..., 0] = True
        keep = torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)
        logits = logits.masked_fill(~keep, float("-inf"))
    return logits


def next_token_probabilities(logits: torch.Tensor, **rule: Any) -> torch.Tensor:
    """The renormalised distribution a rule of :func:`filter_logits` samples from, ``(..., V)``."""
    return torch.softmax(filter_logits(logits, **rule), dim=-1)


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None  # torch's current default generator (the training engine seeds it for Trainable.sample)
    return torch.Generator(device=device).manual_seed(check_int(seed, "seed", minimum=0))


def _prompt_rows(model: Any, prompt: Any, num_samples: int, device: torch.device) -> torch.Tensor:
    if prompt is None:
        return torch.empty((num_samples, 0), dtype=torch.long, device=device)
    if isinstance(prompt, str):
        raise TypeError(f"prompt: expected token ids, got the text {prompt[:20]!r}; encode it with the model's "
                        "tokenizer first (e.g. corpus.tokenizer.encode(text)).")
    ids = torch.as_tensor(np.asarray(prompt) if not isinstance(prompt, torch.Tensor) else prompt, device=device)
    if ids.dtype.is_floating_point or ids.ndim not in (1, 2):
        raise ValueError(f"prompt: expected integer token ids of shape (length,) or (num_samples, length), got "
                         f"shape {tuple(ids.shape)} and dtype {ids.dtype}.")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= model.vocab_size):
        raise ValueError(f"prompt: expected token ids in [0, {model.vocab_size - 1}], got values in "
                         f"[{int(ids.min())}, {int(ids.max())}].")
    ids = ids.long()
    return ids.expand(num_samples, -1).clone() if ids.ndim == 1 else ids


def _last_logits(model: Any, inputs: torch.Tensor) -> torch.Tensor:
    """Next-token logits after ``inputs`` without a cache (the last ``max_length`` inputs if the model has one)."""
    max_length = getattr(model, "max_length", None)
    if max_length is not None and inputs.shape[1] > max_length:
        inputs = inputs[:, -max_length:]
    return model(inputs)[0][:, -1]


@torch.no_grad()
def generate(model: Any, prompt: Any, num_new_tokens: int, *, num_samples: int = 1, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False, use_cache: bool = True,
             seed: int | None = 0) -> torch.Tensor:
    """Continue ``prompt`` by ``num_new_tokens`` tokens of a :class:`~pgm_ppl.sequence.LanguageModel`.

    Parameters
    ----------
    model
        A language model (``forward(inputs, cache) -> (logits, cache)``, ``vocab_size``, ``bos``).
    prompt
        Token ids ``(length,)`` (shared by every sample) or ``(num_samples, length)``, or None (start of text).
    num_new_tokens
        Tokens to generate after the prompt.
    temperature, top_k, top_p
        The rule of :func:`filter_logits` (temperature -> top-k -> top-p) for ancestral sampling.
    greedy
        Take the most probable token at every step instead of sampling (the filters are then irrelevant).
    use_cache
        Continue from the model's cache (KV cache, RNN state) instead of re-reading the whole prefix at every
        step; both give the same tokens. A Transformer whose prompt plus new tokens exceed its ``max_length``
        is run without a cache on its last ``max_length`` inputs (a sliding window).
    seed
        Seed of the :class:`torch.Generator` of the draws; None draws from torch's default generator.

    Returns
    -------
    torch.Tensor
        ``(num_samples, prompt_length + num_new_tokens)`` int64: the prompt followed by the new tokens.
    """
    num_new_tokens = check_int(num_new_tokens, "num_new_tokens", minimum=0)
    num_samples = check_int(num_samples, "num_samples")
    temperature = check_positive(temperature, "temperature", allow_zero=True)
    top_k = None if top_k is None else check_int(top_k, "top_k")
    top_p = None if top_p is None else check_probability(top_p, "top_p")
    device = next(model.parameters()).device
    generator = _generator(seed, device)
    rows = _prompt_rows(model, prompt, num_samples, device)
    num_samples = rows.shape[0]
    bos = torch.full((num_samples, 1), model.bos, dtype=torch.long, device=device)
    inputs = torch.cat([bos, rows], dim=1)
    max_length = getattr(model, "max_length", None)
    cached = use_cache and (max_length is None or inputs.shape[1] + num_new_tokens - 1 <= max_length)
    was_training = model.training
    model.eval()
    try:
        cache = model.new_cache() if cached and hasattr(model, "new_cache") else None
        pending = inputs  # the inputs not yet read by the cached model
        new = []
        for _ in range(num_new_tokens):
            if cached:
                logits, cache = model(pending, cache)
                logits = logits[:, -1]
            else:
                logits = _last_logits(model, inputs)
            if greedy:
                token = logits.argmax(-1)
            else:
                probs = torch.softmax(_filter(logits, temperature, top_k, top_p), dim=-1)
                token = torch.multinomial(probs, 1, generator=generator)[:, 0]
            new.append(token)
            pending = token[:, None]
            inputs = torch.cat([inputs, pending], dim=1)
    finally:
        model.train(was_training)
    return torch.cat([rows, *(t[:, None] for t in new)], dim=1)


class BeamSearchResult(NamedTuple):
    """``sequences`` ``(beam_width, prompt_length + num_new_tokens)`` best first, their ``log_probs``
    ``(beam_width,)``: :math:`\\log p(\\text{new tokens} \\mid \\text{prompt})`, nats."""

    sequences: torch.Tensor
    log_probs: torch.Tensor


@torch.no_grad()
def beam_search(model: Any, prompt: Any, num_new_tokens: int, *, beam_width: int = 4) -> BeamSearchResult:
    r"""The ``beam_width`` most probable continuations found by beam search.

    At each step every kept prefix is extended by every token and the ``beam_width`` extensions of highest
    :math:`\log p(x_{1:t})` are kept. With ``beam_width = 1`` it is greedy decoding; with ``beam_width`` at least
    :math:`|V|^{n-1}` for :math:`n` new tokens it is exhaustive, so it returns the most probable sequence.
    """
    num_new_tokens = check_int(num_new_tokens, "num_new_tokens")
    beam_width = check_int(beam_width, "beam_width")
    device = next(model.parameters()).device
    rows = _prompt_rows(model, prompt, 1, device)
    bos = torch.full((1, 1), model.bos, dtype=torch.long, device=device)
    inputs = torch.cat([bos, rows], dim=1)
    scores = torch.zeros(1, device=device, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        for _ in range(num_new_tokens):
            log_p = F.log_softmax(_last_logits(model, inputs).double(), dim=-1)  # (beams, V)
            total = (scores[:, None] + log_p).reshape(-1)
            scores, index = total.topk(min(beam_width, total.numel()))
            beam, token = index // log_p.shape[1], index % log_p.shape[1]
            inputs = torch.cat([inputs[beam], token[:, None]], dim=1)
    finally:
        model.train(was_training)
    return BeamSearchResult(inputs[:, 1:], scores)
