"""ResidualBlock and ResidualMLP (He et al. 2016): the block's formula, identity at zero, parameter counts."""

import re

import pytest
import torch
from torch import nn

from pgm_ppl.nn import ResidualBlock, ResidualMLP, SinusoidalEmbedding


def test_block_formula_with_time():
    torch.manual_seed(0)
    block = ResidualBlock(4, 6, activation="tanh", time_features=3).double()
    x, e = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    W1, b1, W2, b2 = block.inner.weight, block.inner.bias, block.outer.weight, block.outer.bias
    U = block.time_projection.weight
    expected = x + torch.tanh(x @ W1.T + b1 + e @ U.T) @ W2.T + b2  # y = x + W2 s(W1 x + b1 + U e) + b2
    torch.testing.assert_close(block(x, e), expected)


def test_block_is_identity_when_residual_branch_is_zero():
    block = ResidualBlock(4, 8)
    nn.init.zeros_(block.outer.weight)
    nn.init.zeros_(block.outer.bias)
    x = torch.randn(3, 4)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize(("d", "h", "de"), [(4, 6, None), (4, 6, 3), (32, 64, 16)])
def test_block_parameter_count(d, h, de):
    expected = 2 * d * h + h + d + (h * de if de else 0)
    assert sum(p.numel() for p in ResidualBlock(d, h, time_features=de).parameters()) == expected


def test_block_embedding_errors():
    with pytest.raises(ValueError, match=re.escape("embedding: this block was built with time_features=3; "
                                                   "pass a (batch, 3) embedding.")):
        ResidualBlock(4, 6, time_features=3)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=re.escape("embedding: this block was built without time_features")):
        ResidualBlock(4, 6)(torch.zeros(2, 4), torch.zeros(2, 3))


def test_residual_mlp_shapes_and_count():
    net = ResidualMLP(3, 2, features=16, num_blocks=3, hidden_features=24)
    assert net(torch.zeros(7, 3)).shape == (7, 2)
    expected = (3 * 16 + 16) + 3 * (2 * 16 * 24 + 24 + 16) + (16 * 2 + 2)
    assert sum(p.numel() for p in net.parameters()) == expected
    assert ResidualMLP(3, 2, features=8).blocks[0].inner.out_features == 16  # default hidden = 2 * features


def test_time_conditioned_residual_mlp():
    torch.manual_seed(0)
    net = ResidualMLP(2, 2, features=8, num_blocks=2, activation="silu", time_features=4).double()
    x, t = torch.randn(5, 2, dtype=torch.float64), torch.rand(5, dtype=torch.float64)
    h = net.input_layer(x)
    e = SinusoidalEmbedding(4).double()(t)
    for block in net.blocks:
        h = block(h, e)
    torch.testing.assert_close(net(x, t), net.output_layer(nn.functional.silu(h)))
    torch.testing.assert_close(net(x, 0.5), net(x, torch.full((5,), 0.5, dtype=torch.float64)))
    assert not torch.allclose(net(x, 0.1), net(x, 0.9))  # the time input matters
    with pytest.raises(ValueError, match=re.escape("t: this network was built with time_features; "
                                                   "call it as net(x, t).")):
        net(x)
    with pytest.raises(ValueError, match=re.escape("t: this network was built without time_features; "
                                                   "call it as net(x).")):
        ResidualMLP(2, 2, features=4)(x.float(), 0.5)
