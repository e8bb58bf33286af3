"""SinusoidalEmbedding against the closed form (Vaswani et al. 2017, sec. 3.5) and TimeConditionedMLP."""

import re

import numpy as np
import pytest
import torch

from pgm_ppl.nn import MLP, SinusoidalEmbedding, TimeConditionedMLP, mlp_num_parameters

T = np.array([0.0, 0.3, 1.0, 17.0, 999.0])


def numpy_embedding(t, dim, max_period):
    """e(t) = (sin(w_k t), cos(w_k t)), w_k = P^(-k/K), K = dim/2, in numpy float64."""
    half = dim // 2
    omega = max_period ** (-np.arange(half) / half)
    return np.concatenate([np.sin(t[:, None] * omega), np.cos(t[:, None] * omega)], axis=1)


@pytest.mark.parametrize(("dim", "max_period"), [(2, 10000.0), (16, 10000.0), (64, 100.0)])
def test_closed_form(dim, max_period):
    embedding = SinusoidalEmbedding(dim, max_period).double()
    expected = numpy_embedding(T, dim, max_period)
    out = embedding(torch.tensor(T))
    assert out.shape == (len(T), dim) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(embedding(torch.tensor(T)[:, None]).numpy(), expected, rtol=0, atol=1e-12)


def test_vaswani_positional_encoding_up_to_interleaving():
    # PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)) (Vaswani et al. 2017)
    d, pos = 32, np.arange(50.0)
    i = np.arange(d // 2)
    pe = np.empty((len(pos), d))
    pe[:, 0::2] = np.sin(pos[:, None] / 10000 ** (2 * i / d))
    pe[:, 1::2] = np.cos(pos[:, None] / 10000 ** (2 * i / d))
    out = SinusoidalEmbedding(d).double()(torch.arange(50, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(out[:, : d // 2], pe[:, 0::2], atol=1e-12)
    np.testing.assert_allclose(out[:, d // 2:], pe[:, 1::2], atol=1e-12)


def test_integer_steps_and_no_parameters():
    embedding = SinusoidalEmbedding(8)
    out = embedding(torch.tensor([0, 5, 999]))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), numpy_embedding(np.array([0.0, 5.0, 999.0]), 8, 1e4), atol=1e-4)
    assert list(embedding.parameters()) == [] and len(embedding.state_dict()) == 0
    # every entry lies on the unit circle pairwise: sin^2 + cos^2 = 1
    torch.testing.assert_close(out[:, :4] ** 2 + out[:, 4:] ** 2, torch.ones(3, 4))


def test_embedding_errors():
    with pytest.raises(ValueError, match=re.escape("dim: expected an even integer >= 2, got 5.")):
        SinusoidalEmbedding(5)
    with pytest.raises(ValueError, match=re.escape("max_period: expected a finite number > 0, got 0.")):
        SinusoidalEmbedding(4, max_period=0)
    with pytest.raises(ValueError, match=re.escape("t: expected shape (batch,) or (batch, 1), got (3, 2).")):
        SinusoidalEmbedding(4)(torch.zeros(3, 2))


def test_time_conditioned_mlp_is_mlp_of_concatenation():
    torch.manual_seed(0)
    v = TimeConditionedMLP(3, hidden_features=(16,), activation="silu", time_features=8).double()
    x, t = torch.randn(5, 3, dtype=torch.float64), torch.rand(5, dtype=torch.float64)
    expected = v.net(torch.cat([x, v.embedding(t)], dim=1))
    torch.testing.assert_close(v(x, t), expected)
    torch.testing.assert_close(v(x, t[:, None]), expected)
    torch.testing.assert_close(v(x, torch.tensor(0.25)), v(x, torch.full((5,), 0.25, dtype=torch.float64)))
    torch.testing.assert_close(v(x, 0.25), v(x, torch.tensor(0.25)))
    assert isinstance(v.net, MLP) and v.net.in_features == 3 + 8 and v(x, t).shape == (5, 3)
    assert sum(p.numel() for p in v.parameters()) == mlp_num_parameters(11, 3, (16,)) == 11 * 16 + 16 + 16 * 3 + 3


def test_time_conditioned_mlp_out_features_and_ode_solve():
    from torchdiffeq import odeint

    v = TimeConditionedMLP(2, out_features=4, hidden_features=(8,), time_features=4)
    assert v(torch.zeros(3, 2), torch.zeros(3)).shape == (3, 4)
    field = TimeConditionedMLP(2, hidden_features=(8,), time_features=4)
    x0 = torch.randn(6, 2)
    path = odeint(lambda t, x: field(x, t), x0, torch.tensor([0.0, 1.0]), method="rk4", options={"step_size": 0.25})
    assert path.shape == (2, 6, 2) and torch.equal(path[0], x0) and torch.isfinite(path).all()


def test_time_batch_mismatch_is_named():
    v = TimeConditionedMLP(2, hidden_features=(4,), time_features=4)
    with pytest.raises(ValueError, match=re.escape("t: expected a scalar or a batch of 3 times to match x of shape "
                                                   "(3, 2), got shape (4,).")):
        v(torch.zeros(3, 2), torch.zeros(4))
