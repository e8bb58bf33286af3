r"""Multilayer perceptrons on ``torch.nn`` (course chapter 6, Fig. 6.1), and the activations by name.

An MLP with hidden widths :math:`h_1, \dots, h_L` maps :math:`x \in \mathbb{R}^{d_{\mathrm{in}}}` to

.. math::

    f(x) = \psi\bigl(W_{L+1}\, \sigma(W_L \cdots \sigma(W_1 x + b_1) \cdots + b_L) + b_{L+1}\bigr),

where :math:`W_l \in \mathbb{R}^{h_l \times h_{l-1}}` and :math:`b_l \in \mathbb{R}^{h_l}` are the weights and
biases of layer :math:`l` (:math:`h_0 = d_{\mathrm{in}}`, :math:`h_{L+1} = d_{\mathrm{out}}`), :math:`\sigma`
is the hidden activation of Fig. 6.1 and :math:`\psi` an optional output activation (the identity by default).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from pgm_ppl.core.validation import check_choice, check_int

__all__ = ["ACTIVATIONS", "MLP", "make_activation", "mlp_num_parameters"]

#: The activations of Fig. 6.1 by name, each the ``torch.nn`` module class that computes it (default arguments:
#: leaky ReLU slope 0.01, ELU :math:`\alpha = 1`, exact (erf) GELU, softplus with :math:`\beta = 1`; SELU has the
#: fixed :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.6733` of Klambauer et al. 2017, the activation
#: of Tong et al.'s flow-matching networks).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "selu": nn.SELU,
}


def make_activation(name: str, argument: str = "activation") -> nn.Module:
    """Return a fresh ``torch.nn`` module computing the activation called ``name``.

    Parameters
    ----------
    name
        One of the keys of :data:`ACTIVATIONS`: ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"softplus"``,
        ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"silu"``, ``"selu"``.
    argument
        The name of the user's argument, used in the error message.

    Returns
    -------
    torch.nn.Module
        A parameter-free module applied elementwise; any input shape.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the valid names, e.g.
        ``activation: expected one of 'relu', 'sigmoid', ..., got 'relux'.``

    Examples
    --------
    >>> make_activation("tanh")
    Tanh()
    """
    return ACTIVATIONS[check_choice(name, argument, tuple(ACTIVATIONS))]()


def _check_widths(hidden_features: Sequence[int] | int) -> tuple[int, ...]:
    """Return the hidden widths as a tuple of positive ints (an int means one hidden layer)."""
    if isinstance(hidden_features, int) and not isinstance(hidden_features, bool):
        hidden_features = (hidden_features,)
    if not isinstance(hidden_features, Sequence):
        raise TypeError(f"hidden_features: expected a sequence of integers, got {hidden_features!r} "
                        f"({type(hidden_features).__name__}).")
    return tuple(check_int(h, f"hidden_features[{i}]") for i, h in enumerate(hidden_features))


def mlp_num_parameters(in_features: int, out_features: int, hidden_features: Sequence[int] | int) -> int:
    r"""Return the number of weights and biases of an MLP, :math:`\sum_{l=1}^{L+1} (h_{l-1} h_l + h_l)`.

    Parameters
    ----------
    in_features, out_features
        Input and output sizes :math:`h_0` and :math:`h_{L+1}`.
    hidden_features
        Hidden widths :math:`h_1, \dots, h_L`.

    Examples
    --------
    >>> mlp_num_parameters(2, 1, (3,))  # (2*3 + 3) + (3*1 + 1)
    13
    """
    widths = (in_features, *_check_widths(hidden_features), out_features)
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


class MLP(nn.Sequential):
    r"""A multilayer perceptron: affine layers separated by one activation (course Fig. 6.1).

    The layers are, in order, ``Linear(in, h_1), act, Linear(h_1, h_2), act, ..., Linear(h_L, out)`` and,
    if ``output_activation`` is given, that activation last; see the module docstring for the formula. The
    layer list is the same as :func:`pgm_ppl.nn.stax_mlp`'s, so weights copy across one layer at a time.
It maps an input of shape ``(..., in_features)`` to an output of shape ``(..., out_features)``.

    Parameters
    ----------
    in_features
        Size :math:`d_{\mathrm{in}}` of the last input axis.
    out_features
        Size :math:`d_{\mathrm{out}}` of the last output axis.
    hidden_features
        Widths of the hidden layers (an int for one hidden layer; ``()`` gives an affine map).
    activation
        Name of the hidden activation :math:`\sigma`, one of :data:`ACTIVATIONS`.
    output_activation
        Name of an activation :math:`\psi` applied to the output, or None for none (logits, means).

    Raises
    ------
    ValueError
        If an activation name is unknown (the valid names are listed) or a size is not a positive integer.
    TypeError
        If a size is not an integer.

    See Also
    --------
    pgm_ppl.nn.stax_mlp : the same network for NumPyro models.
    pgm_ppl.nn.ResidualMLP : the same with skip connections.

    Examples
    --------
    >>> import torch
    >>> net = MLP(2, 1, hidden_features=(16, 16), activation="tanh")
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    >>> sum(p.numel() for p in net.parameters()) == mlp_num_parameters(2, 1, (16, 16))
    True
    """

    def __init__(self, in_features: int, out_features: int, hidden_features: Sequence[int] | int = (64, 64),
                 activation: str = "relu", output_activation: str | None = None) -> None:
        widths = (check_int(in_features, "in_features"), *_check_widths(hidden_features),
                  check_int(out_features, "out_features"))
        make_activation(activation)  # validate before building anything
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(make_activation(activation))
        if output_activation is not None:
            layers.append(make_activation(output_activation, "output_activation"))
        super().__init__(*layers)
        self.in_features, self.out_features = widths[0], widths[-1]
        self.hidden_features = widths[1:-1]
        self.activation, self.output_activation = activation, output_activation

    def __getitem__(self, index: int | slice) -> nn.Module:
        """Return layer ``index``, or a plain ``nn.Sequential`` of the layers in a slice (e.g. ``net[:-1]``)."""
        if isinstance(index, slice):
            return nn.Sequential(*list(self._modules.values())[index])
        return super().__getitem__(index)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"hidden_features={self.hidden_features}, activation={self.activation!r}")
