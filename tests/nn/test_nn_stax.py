"""stax_mlp is the same network as MLP (float64, weights copied both ways) and runs inside numpyro.module."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
import torch

from pgm_ppl.nn import ACTIVATIONS, MLP, stax_mlp, stax_to_torch_params, torch_to_stax_params

X = np.random.default_rng(0).normal(scale=3.0, size=(11, 3))


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_torch_weights_give_identical_stax_outputs(activation):
    torch.manual_seed(0)
    net = MLP(3, 2, hidden_features=(7, 5), activation=activation, output_activation="softplus").double()
    init_fn, apply_fn = stax_mlp(3, 2, hidden_features=(7, 5), activation=activation, output_activation="softplus")
    params = torch_to_stax_params(net)
    assert params[0][0].dtype == jnp.float64 and params[1] == ()
    out_shape, _ = init_fn(jax.random.PRNGKey(0), (11, 3))
    assert out_shape == (11, 2)
    expected = net(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(np.asarray(apply_fn(params, jnp.asarray(X))), expected, rtol=0, atol=1e-6)


def test_stax_weights_copied_back_to_torch():
    init_fn, apply_fn = stax_mlp(3, 4, hidden_features=(6,), activation="gelu")
    _, params = init_fn(jax.random.PRNGKey(1), (1, 3))
    net = stax_to_torch_params(params, MLP(3, 4, hidden_features=(6,), activation="gelu").double())
    expected = np.asarray(apply_fn(params, jnp.asarray(X)))
    np.testing.assert_allclose(net(torch.from_numpy(X)).detach().numpy(), expected, rtol=0, atol=1e-6)
    round_trip = torch_to_stax_params(net)
    for a, b in zip(jax.tree_util.tree_leaves(round_trip), jax.tree_util.tree_leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_numpyro_module_under_seed_and_trace():
    init_fn, apply_fn = stax_mlp(3, 1, hidden_features=(8,), activation="tanh")

    def model(x, y=None):
        net = numpyro.module("net", (init_fn, apply_fn), input_shape=(1, 3))
        mean = net(x)[..., 0]
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("y", dist.Normal(mean, 1.0), obs=y)

    x, y = jnp.asarray(X), jnp.zeros(len(X))
    with numpyro.handlers.seed(rng_seed=0):
        trace = numpyro.handlers.trace(model).get_trace(x, y)
    params = trace["net$params"]["value"]
    assert trace["net$params"]["type"] == "param"
    assert [tuple(a.shape) for a in jax.tree_util.tree_leaves(params)] == [(3, 8), (8,), (8, 1), (1,)]
    np.testing.assert_allclose(np.asarray(trace["y"]["fn"].mean), np.asarray(apply_fn(params, x))[:, 0])

    # A torch network's weights substituted into the NumPyro model give the torch network's mean.
    torch.manual_seed(0)
    net = MLP(3, 1, hidden_features=(8,), activation="tanh").double()
    substituted = numpyro.handlers.substitute(model, data={"net$params": torch_to_stax_params(net)})
    with numpyro.handlers.seed(rng_seed=0):
        trace = numpyro.handlers.trace(substituted).get_trace(x, y)
    expected = net(torch.from_numpy(X))[:, 0].detach().numpy()
    np.testing.assert_allclose(np.asarray(trace["y"]["fn"].mean), expected, rtol=0, atol=1e-6)
    assert np.isfinite(float(trace["y"]["fn"].log_prob(y).sum()))


def test_layer_lists_align():
    net = MLP(2, 3, hidden_features=(4, 4, 4), activation="elu", output_activation="sigmoid")
    init_fn, _ = stax_mlp(2, 3, hidden_features=(4, 4, 4), activation="elu", output_activation="sigmoid")
    _, params = init_fn(jax.random.PRNGKey(0), (2,))
    assert len(params) == len(net) == 8
    assert [p == () for p in params] == [not isinstance(m, torch.nn.Linear) for m in net]


def test_errors():
    names = "'relu', 'sigmoid', 'tanh', 'softplus', 'leaky_relu', 'elu', 'gelu', 'silu', 'selu'"
    with pytest.raises(ValueError, match=re.escape(f"activation: expected one of {names}, got 'relux'.")):
        stax_mlp(2, 1, activation="relux")
    init_fn, _ = stax_mlp(2, 1, hidden_features=(3,))
    with pytest.raises(ValueError, match=re.escape("input_shape: expected a last axis of size in_features=2, "
                                                   "got (5, 3).")):
        init_fn(jax.random.PRNGKey(0), (5, 3))
    _, params = init_fn(jax.random.PRNGKey(0), (5, 2))
    with pytest.raises(ValueError, match=re.escape("params[0]: expected W of shape (2, 4) and b of shape (4,), "
                                                   "got (2, 3) and (3,).")):
        stax_to_torch_params(params, MLP(2, 1, hidden_features=(4,)))
    with pytest.raises(ValueError, match=re.escape("params: expected 5 layers to match the MLP, got 3.")):
        stax_to_torch_params(params, MLP(2, 1, hidden_features=(4, 4)))
    with pytest.raises(TypeError, match=re.escape("mlp: expected a pgm_ppl.nn.MLP, got Linear.")):
        torch_to_stax_params(torch.nn.Linear(2, 1))
