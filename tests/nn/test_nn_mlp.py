"""MLP and activations by name: the torch.nn.functional references, the closed-form parameter count, errors."""

import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pgm_ppl.nn import ACTIVATIONS, MLP, make_activation, mlp_num_parameters

NAMES_MESSAGE = "'relu', 'sigmoid', 'tanh', 'softplus', 'leaky_relu', 'elu', 'gelu', 'silu', 'selu'"
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946  # Klambauer et al. 2017

# Each name's reference function (Fig. 6.1), with torch's documented defaults written out.
REFERENCES = {
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": lambda x: torch.log1p(torch.exp(x)),
    "leaky_relu": lambda x: torch.where(x >= 0, x, 0.01 * x),
    "elu": lambda x: torch.where(x > 0, x, torch.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + torch.erf(x / 2**0.5)),
    "silu": lambda x: x * torch.sigmoid(x),
    "selu": lambda x: SELU_SCALE * torch.where(x > 0, x, SELU_ALPHA * torch.expm1(x)),
}
X = torch.linspace(-4.0, 4.0, 41, dtype=torch.float64)


def test_activation_names_are_the_notes():
    assert tuple(ACTIVATIONS) == ("relu", "sigmoid", "tanh", "softplus", "leaky_relu", "elu", "gelu", "silu",
                                  "selu")


@pytest.mark.parametrize("name", list(REFERENCES))
def test_activation_matches_functional_reference(name):
    module = make_activation(name)
    assert isinstance(module, ACTIVATIONS[name])
    torch.testing.assert_close(module(X), REFERENCES[name](X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_mlp_uses_the_named_activation_between_layers(name):
    net = MLP(3, 2, hidden_features=(4, 5), activation=name).double()
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, ACTIVATIONS[name], nn.Linear, ACTIVATIONS[name], nn.Linear]
    x = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    l1, _, l2, _, l3 = net
    sigma = REFERENCES[name]
    expected = sigma(sigma(x @ l1.weight.T + l1.bias) @ l2.weight.T + l2.bias) @ l3.weight.T + l3.bias
    torch.testing.assert_close(net(x), expected, rtol=1e-12, atol=1e-12)


def test_output_activation_is_applied_last():
    torch.manual_seed(0)
    net = MLP(2, 3, (8,), activation="tanh", output_activation="sigmoid").double()
    assert isinstance(net[-1], nn.Sigmoid)
    x = torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(net(x), torch.sigmoid(net[:-1](x)))
    assert net(x).shape == (5, 3)


@pytest.mark.parametrize(("in_f", "out_f", "hidden", "count"), [
    (3, 2, (5, 7), 3 * 5 + 5 + 5 * 7 + 7 + 7 * 2 + 2),
    (64, 10, (64, 64), 64 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10),
    (4, 1, 6, 4 * 6 + 6 + 6 * 1 + 1),
    (4, 3, (), 4 * 3 + 3),
])
def test_parameter_count_closed_form(in_f, out_f, hidden, count):
    net = MLP(in_f, out_f, hidden)
    assert sum(p.numel() for p in net.parameters()) == count
    assert mlp_num_parameters(in_f, out_f, hidden) == count


def test_batch_axes_pass_through():
    assert MLP(3, 2, (4,))(torch.zeros(7, 5, 3)).shape == (7, 5, 2)


def test_unknown_activation_lists_valid_names():
    message = f"activation: expected one of {NAMES_MESSAGE}, got 'relux'."
    with pytest.raises(ValueError, match=re.escape(message)):
        MLP(2, 1, activation="relux")
    with pytest.raises(ValueError, match=re.escape(message)):
        make_activation("relux")
    with pytest.raises(ValueError, match=re.escape(f"output_activation: expected one of {NAMES_MESSAGE}, got 'soft'.")):
        MLP(2, 1, output_activation="soft")


def test_bad_sizes_name_the_argument():
    with pytest.raises(ValueError, match=re.escape("hidden_features[1]: expected an integer >= 1, got 0.")):
        MLP(2, 1, hidden_features=(3, 0))
    with pytest.raises(TypeError, match=re.escape("in_features: expected an integer, got 2.5 (float).")):
        MLP(2.5, 1)
    with pytest.raises(TypeError, match=re.escape("hidden_features: expected a sequence of integers, got None")):
        MLP(2, 1, hidden_features=None)


def test_import_does_not_load_jax():
    code = "import sys, pgm_ppl.nn; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
