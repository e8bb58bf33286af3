"""Attention and Transformer blocks against direct formulas and torch.nn's own modules."""

import math
import re

import pytest
import torch

from pgm_ppl.nn import (KVCache, LearnedPositionalEncoding, MultiHeadAttention, SinusoidalEmbedding,
                        SinusoidalPositionalEncoding, TransformerBlock, attention_weights,
                        scaled_dot_product_attention)


@pytest.fixture
def qkv():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64),
            torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64),
            torch.randn(2, 3, 7, 4, generator=g, dtype=torch.float64))


def _direct(q, k, v, mask=None):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    weights = torch.exp(scores - scores.max(-1, keepdim=True).values)
    weights = weights / weights.sum(-1, keepdim=True)
    return weights @ v, weights


def test_attention_equals_direct_softmax_and_rows_sum_to_one(qkv):
    q, k, v = qkv
    expected, expected_weights = _direct(q, k, v)
    fused, none = scaled_dot_product_attention(q, k, v)
    explicit, weights = scaled_dot_product_attention(q, k, v, need_weights=True)
    assert none is None
    torch.testing.assert_close(fused, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(explicit, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))


def test_causal_attention_of_queries_after_a_prefix(qkv):
    """Five queries at the last five of seven positions: query i sees keys 0..i+2 (fused and explicit agree)."""
    q, k, v = qkv
    mask = torch.arange(7)[None, :] <= torch.arange(5)[:, None] + 2
    expected, expected_weights = _direct(q, k, v, mask)
    fused, _ = scaled_dot_product_attention(q, k, v, causal=True)
    explicit, weights = scaled_dot_product_attention(q, k, v, causal=True, need_weights=True)
    torch.testing.assert_close(fused, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(explicit, expected, rtol=1e-12, atol=1e-12)
    assert torch.all(weights[..., ~mask] == 0)
    torch.testing.assert_close(attention_weights(q, k, causal=True), expected_weights)


@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_equals_torch_multihead_attention(bias):
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(16, 4, bias=bias, batch_first=True).double()
    ours = MultiHeadAttention(16, 4, bias=bias).double().load_torch(reference)
    x = torch.randn(3, 6, 16, dtype=torch.float64)
    causal = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1)  # torch: True = masked
    expected, expected_weights = reference(x, x, x, attn_mask=causal, average_attn_weights=False)
    out, weights = ours(x, causal=True, need_weights=True)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-10, atol=1e-12)
    fused, _ = ours(x, causal=True)
    torch.testing.assert_close(fused, expected, rtol=1e-10, atol=1e-12)


def test_cross_attention_equals_torch_with_other_key_dimension():
    torch.manual_seed(1)
    reference = torch.nn.MultiheadAttention(8, 2, kdim=5, vdim=5, batch_first=True).double()
    ours = MultiHeadAttention(8, 2, context_dim=5).double().load_torch(reference)
    x, context = torch.randn(2, 4, 8, dtype=torch.float64), torch.randn(2, 9, 5, dtype=torch.float64)
    expected, _ = reference(x, context, context)
    torch.testing.assert_close(ours(x, context)[0], expected, rtol=1e-10, atol=1e-12)


def test_kv_cache_gives_the_full_causal_pass_token_by_token():
    torch.manual_seed(2)
    attention = MultiHeadAttention(8, 2).double()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    full, _ = attention(x, causal=True)
    cache = KVCache(1)
    parts = [attention(x[:, :2], causal=True, cache=cache)[0]]  # a prompt of two, then one token at a time
    parts += [attention(x[:, t:t + 1], causal=True, cache=cache)[0] for t in range(2, 6)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-12, atol=1e-12)
    assert cache.length == 6


@pytest.mark.parametrize("norm_first", [False, True])
def test_block_equals_torch_transformer_encoder_layer(norm_first):
    """Post-LN (the notes' Fig. 7.2) and pre-LN blocks equal nn.TransformerEncoderLayer with copied weights."""
    torch.manual_seed(3)
    reference = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=norm_first).double().eval()
    block = TransformerBlock(16, 4, hidden_features=32, norm_first=norm_first).double()
    block.attention.load_torch(reference.self_attn)
    with torch.no_grad():
        block.mlp[0].weight.copy_(reference.linear1.weight)
        block.mlp[0].bias.copy_(reference.linear1.bias)
        block.mlp[2].weight.copy_(reference.linear2.weight)
        block.mlp[2].bias.copy_(reference.linear2.bias)
        for ours, theirs in ((block.norm1, reference.norm1), (block.norm2, reference.norm2)):
            ours.weight.copy_(torch.randn(16))
            ours.bias.copy_(torch.randn(16))
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    expected = reference(x, src_mask=mask, is_causal=True)
    torch.testing.assert_close(block(x, causal=True)[0], expected, rtol=1e-10, atol=1e-10)


def test_cross_attention_block_needs_a_context():
    block = TransformerBlock(8, 2, cross_attention=True, context_dim=3)
    out, _ = block(torch.randn(2, 4, 8), torch.randn(2, 6, 3))
    assert out.shape == (2, 4, 8)
    with pytest.raises(ValueError, match="context: expected the sequence to cross-attend to"):
        block(torch.randn(2, 4, 8))


def test_positional_encodings():
    sinusoidal = SinusoidalPositionalEncoding(6, max_length=10)
    x = torch.zeros(1, 4, 6)
    torch.testing.assert_close(sinusoidal(x, offset=3)[0], SinusoidalEmbedding(6)(torch.arange(3.0, 7.0)))
    learned = LearnedPositionalEncoding(6, 10)
    torch.testing.assert_close(learned(x, offset=2)[0], learned.embedding.weight[2:6])
    with pytest.raises(ValueError, match=re.escape("sequence length: expected at most max_length=10 positions, "
                                                   "got 11.")):
        sinusoidal(torch.zeros(1, 11, 6))


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match=re.escape("num_heads: expected a divisor of embed_dim=10, got 4.")):
        MultiHeadAttention(10, 4)
