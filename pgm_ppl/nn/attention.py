r"""Attention and Transformer blocks (course §7.6-7.15, Figs. 7.1-7.2) on ``torch.nn``.

Scaled dot-product attention (course §7.6) of queries :math:`Q = XW_Q`, keys :math:`K = YW_K` and values
:math:`V = YW_V` (:math:`Y = X` for self-attention, another sequence for cross-attention, §7.8) is

.. math::
    \mathrm{Att}(Q, K, V) = A V, \qquad A = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{D_K}} + M\right),

each row of :math:`A` a convex combination (the softmax is over the keys), and :math:`M` a mask (0 or
:math:`-\infty`; a causal mask hides the keys after each query, §7.15). It runs on
:func:`torch.nn.functional.scaled_dot_product_attention` (fused kernels); the weights :math:`A` are computed
explicitly only when asked for (``need_weights=True``, for plots). Multi-head attention (§7.10) runs
:math:`H` such maps on :math:`D/H`-dimensional projections and mixes their concatenation with :math:`W_O`; its
weights are laid out as :class:`torch.nn.MultiheadAttention`'s, so its parameters copy across
(:meth:`MultiHeadAttention.load_torch`).

A Transformer block (§7.14, Fig. 7.2) is attention, a residual connection and LayerNorm (eq. (7.2)), then the
position-wise MLP (eq. (7.1)), a residual and LayerNorm: the notes' *post-LN* order [Vaswani2017]_; the *pre-LN*
order [Xiong2020]_ (normalise the input of each branch, keep the residual stream unnormalised) trains more stably
in deep stacks. Without positions attention is permutation-equivariant (§7.13), so token embeddings get
sinusoidal [Vaswani2017]_ or learned positional encodings added.

Generation reuses past keys and values: a :class:`KVCache` holds them per layer, so each new token costs one
query against the cache instead of a pass over the whole prefix.

References
----------
.. [Vaswani2017] A. Vaswani et al., "Attention is all you need", NeurIPS 2017.
.. [Xiong2020] R. Xiong et al., "On layer normalization in the Transformer architecture", ICML 2020.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.nn.embeddings import SinusoidalEmbedding
from pgm_ppl.nn.mlp import MLP

__all__ = ["KVCache", "LearnedPositionalEncoding", "MultiHeadAttention", "SinusoidalPositionalEncoding",
           "TransformerBlock", "attention_weights", "scaled_dot_product_attention"]


def _causal_mask(num_queries: int, num_keys: int, device: torch.device) -> torch.Tensor:
    """Boolean (Tq, Tk) mask, True where query i (the last Tq of Tk positions) may attend to key j."""
    offset = num_keys - num_queries
    rows = torch.arange(num_queries, device=device)[:, None] + offset
    return torch.arange(num_keys, device=device)[None, :] <= rows


def attention_weights(q: torch.Tensor, k: torch.Tensor, *, causal: bool = False,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`A = \mathrm{softmax}(QK^\top/\sqrt{D_K} + M)` computed directly, shape ``(..., Tq, Tk)``.

    ``q`` is ``(..., Tq, D_K)``, ``k`` is ``(..., Tk, D_K)``; ``causal`` lets query i (the last Tq of the Tk
    positions) see keys up to its own position; ``mask`` is a boolean (True = attend) or additive float mask
    broadcastable to ``(..., Tq, Tk)``. A row with every key masked is NaN (as in torch).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(~_causal_mask(q.shape[-2], k.shape[-2], q.device), float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return torch.softmax(scores, dim=-1)


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                                 mask: torch.Tensor | None = None,
                                 need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""Scaled dot-product attention :math:`\mathrm{softmax}(QK^\top/\sqrt{D_K} + M)\,V` (course §7.6).

    Parameters
    ----------
    q, k, v
        Queries ``(..., Tq, D_K)``, keys ``(..., Tk, D_K)``, values ``(..., Tk, D_V)``.
    causal
        Hide from query i the keys after its position (queries are the last ``Tq`` of the ``Tk`` positions, as
        when new tokens attend to a key-value cache).
    mask
        Optional boolean (True = attend) or additive mask, broadcastable to ``(..., Tq, Tk)``.
    need_weights
        Also return the weights :math:`A` (computed explicitly; otherwise the fused kernel of
        :func:`torch.nn.functional.scaled_dot_product_attention` runs and ``None`` is returned).

    Returns
    -------
    output, weights
        ``(..., Tq, D_V)`` and ``(..., Tq, Tk)`` or None.
    """
    if need_weights:
        weights = attention_weights(q, k, causal=causal, mask=mask)
        return weights @ v, weights
    if causal and q.shape[-2] > 1:
        if q.shape[-2] == k.shape[-2] and mask is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True), None
        causal_mask = _causal_mask(q.shape[-2], k.shape[-2], q.device)
        if mask is not None:
            causal_mask = causal_mask & mask if mask.dtype == torch.bool else \
                torch.zeros_like(mask).masked_fill(~causal_mask, float("-inf")) + mask
        mask = causal_mask
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None


class KVCache:
    """Keys and values of the positions seen so far, one ``(batch, heads, T, D_K)`` pair per layer.

    Created empty by the model that generates (``KVCache(num_layers)``), filled by each
    :class:`MultiHeadAttention` it is handed to (``layer`` says which slot); ``length`` is the number of cached
    positions (the offset of the next token's position).
    """

    def __init__(self, num_layers: int):
        self.keys: list[torch.Tensor | None] = [None] * check_int(num_layers, "num_layers")
        self.values: list[torch.Tensor | None] = [None] * num_layers

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[-2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append new keys and values of ``layer``; return all of them."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=-2)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (beam search)."""
        self.keys = [None if k is None else k[index] for k in self.keys]
        self.values = [None if v is None else v[index] for v in self.values]


class MultiHeadAttention(nn.Module):
    r"""Multi-head (self- or cross-) attention (course §7.8, §7.10).

    With :math:`H` heads of size :math:`D_h = D/H`,
    :math:`\mathrm{MHA}(X, Y) = \mathrm{concat}_h\big(\mathrm{Att}(XW_Q^h, YW_K^h, YW_V^h)\big)\,W_O`.

    Parameters
    ----------
    embed_dim
        :math:`D`, the query (and output) size; divisible by ``num_heads``.
    num_heads
        :math:`H`.
    context_dim
        Size of the keys' and values' source :math:`Y` (cross-attention); default ``embed_dim``.
    bias
        Biases in the four projections.

    Notes
    -----
    ``forward(x, context=None, *, causal=False, mask=None, cache=None, layer=0, need_weights=False)`` takes
    ``x`` ``(batch, Tq, D)`` and ``context`` ``(batch, Tk, context_dim)`` (None: self-attention) and returns
    ``(output, weights)``: ``(batch, Tq, D)`` and the per-head weights ``(batch, H, Tq, Tk)`` (or None). With a
    :class:`KVCache`, the new keys and values are appended to slot ``layer`` and the queries attend to all of them.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, context_dim: int | None = None, bias: bool = True):
        super().__init__()
        embed_dim, num_heads = check_int(embed_dim, "embed_dim"), check_int(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(f"num_heads: expected a divisor of embed_dim={embed_dim}, got {num_heads}.")
        context_dim = embed_dim if context_dim is None else check_int(context_dim, "context_dim")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(context_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(context_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, *, causal: bool = False,
                mask: torch.Tensor | None = None, cache: KVCache | None = None, layer: int = 0,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        source = x if context is None else context
        q = self._heads(self.q_proj(x))
        k, v = self._heads(self.k_proj(source)), self._heads(self.v_proj(source))
        if cache is not None:
            k, v = cache.update(layer, k, v)
        out, weights = scaled_dot_product_attention(q, k, v, causal=causal, mask=mask, need_weights=need_weights)
        return self.out_proj(out.transpose(1, 2).flatten(-2)), weights

    @torch.no_grad()
    def load_torch(self, other: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a :class:`torch.nn.MultiheadAttention` (``batch_first`` or not) of the same sizes."""
        if other.embed_dim != self.embed_dim or other.num_heads != self.num_heads:
            raise ValueError(f"other: expected embed_dim={self.embed_dim}, num_heads={self.num_heads}, got "
                             f"{other.embed_dim}, {other.num_heads}.")
        if other._qkv_same_embed_dim:
            weights = other.in_proj_weight.chunk(3)
        else:
            weights = (other.q_proj_weight, other.k_proj_weight, other.v_proj_weight)
        biases = other.in_proj_bias.chunk(3) if other.in_proj_bias is not None else (None,) * 3
        for proj, weight, bias in zip((self.q_proj, self.k_proj, self.v_proj), weights, biases):
            proj.weight.copy_(weight)
            if bias is not None:
                proj.bias.copy_(bias)
        self.out_proj.weight.copy_(other.out_proj.weight)
        if other.out_proj.bias is not None:
            self.out_proj.bias.copy_(other.out_proj.bias)
        return self


class SinusoidalPositionalEncoding(nn.Module):
    r"""Add Vaswani's fixed sinusoidal encoding :math:`p(n)` to token embeddings, :math:`\tilde x_n = x_n + p(n)`
    (course §7.13); :math:`p` is :class:`~pgm_ppl.nn.SinusoidalEmbedding` of the position (sines first, then
    cosines). ``forward(x, offset=0)``: ``x`` ``(batch, T, D)``, positions ``offset..offset+T-1``."""

    def __init__(self, embed_dim: int, max_length: int = 4096):
        super().__init__()
        self.max_length = check_int(max_length, "max_length")
        positions = torch.arange(self.max_length, dtype=torch.get_default_dtype())
        self.register_buffer("table", SinusoidalEmbedding(embed_dim)(positions), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        _check_length(offset + x.shape[-2], self.max_length)
        return x + self.table[offset:offset + x.shape[-2]].to(x.dtype)


class LearnedPositionalEncoding(nn.Module):
    """Add a learned vector per position (GPT's), ``nn.Embedding(max_length, embed_dim)`` (course §7.13)."""

    def __init__(self, embed_dim: int, max_length: int):
        super().__init__()
        self.max_length = check_int(max_length, "max_length")
        self.embedding = nn.Embedding(self.max_length, check_int(embed_dim, "embed_dim"))
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        _check_length(offset + x.shape[-2], self.max_length)
        return x + self.embedding.weight[offset:offset + x.shape[-2]]


def _check_length(length: int, max_length: int) -> None:
    if length > max_length:
        raise ValueError(f"sequence length: expected at most max_length={max_length} positions, got {length}.")


class TransformerBlock(nn.Module):
    r"""One Transformer block (course §7.14, Fig. 7.2): (causal) self-attention, optional cross-attention to a
    context sequence, and the position-wise MLP (eq. (7.1)), each with a residual connection and LayerNorm
    (eq. (7.2)).

    Post-LN (``norm_first=False``, the notes' order): :math:`h \leftarrow \mathrm{LN}(h + f(h))` for each branch
    :math:`f`. Pre-LN (``norm_first=True``): :math:`h \leftarrow h + f(\mathrm{LN}(h))`.

    Parameters
    ----------
    embed_dim, num_heads
        Model width :math:`D` and heads :math:`H`.
    hidden_features
        Width of the MLP's hidden layer (default :math:`4D`).
    activation
        The MLP's activation by name (:data:`pgm_ppl.nn.ACTIVATIONS`).
    norm_first
        Pre-LN instead of post-LN.
    cross_attention, context_dim
        Add a cross-attention branch to a context of width ``context_dim`` (default ``embed_dim``), as in the
        decoder of an encoder-decoder Transformer (Fig. 7.3).
    dropout
        Dropout on each branch's output before the residual sum (training mode only).

    Notes
    -----
    ``forward(h, context=None, *, causal=False, cache=None, layer=0, need_weights=False)`` returns
    ``(h, weights)`` with the self-attention weights ``(batch, H, T, T)`` when asked for.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, hidden_features: int | None = None,
                 activation: str = "gelu", norm_first: bool = False, cross_attention: bool = False,
                 context_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        hidden_features = 4 * embed_dim if hidden_features is None else hidden_features
        self.norm_first = bool(norm_first)
        self.attention = MultiHeadAttention(embed_dim, num_heads)
        self.norm1 = nn.LayerNorm(embed_dim)
        self.cross = (MultiHeadAttention(embed_dim, num_heads, context_dim=context_dim) if cross_attention
                      else None)
        self.norm_cross = nn.LayerNorm(embed_dim) if cross_attention else None
        self.mlp = MLP(embed_dim, embed_dim, (hidden_features,), activation=activation)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(check_positive(dropout, "dropout", allow_zero=True))

    def _branch(self, h: torch.Tensor, norm: nn.LayerNorm, f) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.norm_first:
            out, weights = f(norm(h))
            return h + self.dropout(out), weights
        out, weights = f(h)
        return norm(h + self.dropout(out)), weights

    def forward(self, h: torch.Tensor, context: torch.Tensor | None = None, *, causal: bool = False,
                cache: KVCache | None = None, layer: int = 0,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        h, weights = self._branch(h, self.norm1, lambda z: self.attention(
            z, causal=causal, cache=cache, layer=layer, need_weights=need_weights))
        if self.cross is not None:
            if context is None:
                raise ValueError("context: expected the sequence to cross-attend to (batch, Tk, context_dim), "
                                 "got None.")
            h, _ = self._branch(h, self.norm_cross, lambda z: self.cross(z, context))
        h, _ = self._branch(h, self.norm2, lambda z: (self.mlp(z), None))
        return h, weights
