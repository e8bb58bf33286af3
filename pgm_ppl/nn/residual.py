r"""Residual blocks :math:`x + f(x)` and residual MLPs, optionally conditioned on a time embedding.

A residual block learns the correction to the identity instead of the whole map [He2016]_, which keeps deep
stacks trainable; with a time input it is the building block of the score and vector-field networks of
chapters 8 and 9.

References
----------
.. [He2016] K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition", CVPR 2016.
"""

from __future__ import annotations

import torch
from torch import nn

from pgm_ppl.core.validation import check_int
from pgm_ppl.nn.embeddings import SinusoidalEmbedding
from pgm_ppl.nn.mlp import make_activation

__all__ = ["ResidualBlock", "ResidualMLP"]


class ResidualBlock(nn.Module):
    r"""One residual block :math:`y = x + W_2\, \sigma(W_1 x + b_1 + U e) + b_2` [He2016]_.

    :math:`W_1 \in \mathbb{R}^{h \times d}`, :math:`W_2 \in \mathbb{R}^{d \times h}` and the biases are
    learned; :math:`\sigma` is the activation; :math:`e` is an optional conditioning vector (a time embedding)
    entering through the bias-free projection :math:`U \in \mathbb{R}^{h \times d_e}`. Without
    ``time_features`` the term :math:`U e` is absent. Parameter count: :math:`2dh + h + d` (+ :math:`h d_e`).

    Parameters
    ----------
    features
        Size :math:`d` of the input and output (the residual keeps it).
    hidden_features
        Width :math:`h` of the inner layer.
    activation
        Name of :math:`\sigma`, one of :data:`~pgm_ppl.nn.ACTIVATIONS`.
    time_features
        Size :math:`d_e` of the conditioning vector, or None for an unconditioned block.

    Notes
    -----
    ``forward(x, embedding=None)``: ``x`` of shape ``(batch, features)``; ``embedding`` of shape
    ``(batch, time_features)``, required exactly when ``time_features`` is set; output ``(batch, features)``.

    Raises
    ------
    ValueError
        For a bad size or activation name; in ``forward``, when ``embedding`` is missing or unexpected.
    """

    def __init__(self, features: int, hidden_features: int, activation: str = "relu",
                 time_features: int | None = None) -> None:
        super().__init__()
        self.features = check_int(features, "features")
        hidden = check_int(hidden_features, "hidden_features")
        self.inner = nn.Linear(self.features, hidden)
        self.activation = make_activation(activation)
        self.outer = nn.Linear(hidden, self.features)
        self.time_features = None if time_features is None else check_int(time_features, "time_features")
        self.time_projection = (None if self.time_features is None
                                else nn.Linear(self.time_features, hidden, bias=False))

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inner(x)
        if self.time_projection is not None:
            if embedding is None:
                raise ValueError("embedding: this block was built with time_features="
                                 f"{self.time_features}; pass a (batch, {self.time_features}) embedding.")
            h = h + self.time_projection(embedding)
        elif embedding is not None:
            raise ValueError("embedding: this block was built without time_features; pass time_features=... "
                             "to condition it on a time embedding.")
        return x + self.outer(self.activation(h))


class ResidualMLP(nn.Module):
    r"""A stack of :class:`ResidualBlock` s between an input and an output layer.

    .. math::

        h_0 = W_{\mathrm{in}} x + b_{\mathrm{in}}, \qquad h_k = h_{k-1} + f_k(h_{k-1}, e(t)), \qquad
        y = W_{\mathrm{out}}\, \sigma(h_K) + b_{\mathrm{out}},

    where :math:`f_k` is block :math:`k`'s residual branch and :math:`e(t)` the
    :class:`~pgm_ppl.nn.SinusoidalEmbedding` of the time (only when ``time_features`` is set).

    Parameters
    ----------
    in_features, out_features
        Sizes of the input's and output's last axis.
    features
        Width :math:`d` of the residual stream.
    num_blocks
        Number :math:`K` of residual blocks.
    hidden_features
        Inner width of each block; None gives ``2 * features``.
    activation
        Name of :math:`\sigma`, one of :data:`~pgm_ppl.nn.ACTIVATIONS`.
    time_features
        Size of the time embedding, or None for a network of ``x`` alone.
    max_period
        The time embedding's period scale.

    Notes
    -----
    ``forward(x, t=None)``: ``x`` of shape ``(batch, in_features)``; ``t`` (only with ``time_features``) of
    shape ``()``, ``(batch,)`` or ``(batch, 1)``; output ``(batch, out_features)``.

    Raises
    ------
    ValueError
        For a bad size or activation name; in ``forward``, when ``t`` is missing or unexpected.

    Examples
    --------
    >>> import torch
    >>> net = ResidualMLP(2, 2, features=32, num_blocks=3, time_features=16)
    >>> net(torch.zeros(4, 2), torch.rand(4)).shape
    torch.Size([4, 2])
    """

    def __init__(self, in_features: int, out_features: int, features: int = 64, num_blocks: int = 2,
                 hidden_features: int | None = None, activation: str = "relu", time_features: int | None = None,
                 max_period: float = 10000.0) -> None:
        super().__init__()
        features = check_int(features, "features")
        hidden = 2 * features if hidden_features is None else hidden_features
        self.input_layer = nn.Linear(check_int(in_features, "in_features"), features)
        self.embedding = None if time_features is None else SinusoidalEmbedding(time_features, max_period)
        self.blocks = nn.ModuleList(ResidualBlock(features, hidden, activation, time_features)
                                    for _ in range(check_int(num_blocks, "num_blocks")))
        self.activation = make_activation(activation)
        self.output_layer = nn.Linear(features, check_int(out_features, "out_features"))

    def forward(self, x: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
        embedding = None
        if self.embedding is not None:
            if t is None:
                raise ValueError("t: this network was built with time_features; call it as net(x, t).")
            t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
            embedding = self.embedding(t.expand(x.shape[0]) if t.ndim == 0 else t)
        elif t is not None:
            raise ValueError("t: this network was built without time_features; call it as net(x).")
        h = self.input_layer(x)
        for block in self.blocks:
            h = block(h, embedding)
        return self.output_layer(self.activation(h))
