r"""Sinusoidal embeddings of a time or noise level, and the time-conditioned MLP :math:`v_\theta(x, t)`.

Flow matching (chapter 8) regresses a vector field :math:`v_\theta(x, t)` and diffusion (chapter 9) a noise
or score network :math:`\epsilon_\theta(x, t)`; both feed the scalar :math:`t` to the network through the
Transformer's positional encoding [Vaswani2017]_, as DDPM does [Ho2020]_.

References
----------
.. [Vaswani2017] A. Vaswani et al., "Attention is all you need", NeurIPS 2017, section 3.5.
.. [Ho2020] J. Ho, A. Jain and P. Abbeel, "Denoising diffusion probabilistic models", NeurIPS 2020, appendix B.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.nn.mlp import MLP

__all__ = ["SinusoidalEmbedding", "TimeConditionedMLP"]


class SinusoidalEmbedding(nn.Module):
    r"""Embed a scalar time or noise level :math:`t` as sines and cosines of geometric frequencies.

    With :math:`D` = ``dim`` and :math:`K = D/2`,

    .. math::

        e(t) = \bigl(\sin(\omega_0 t), \dots, \sin(\omega_{K-1} t),\;
                     \cos(\omega_0 t), \dots, \cos(\omega_{K-1} t)\bigr),
        \qquad \omega_k = P^{-k/K},

    where :math:`P` = ``max_period`` (10000 in [Vaswani2017]_). The frequencies run from 1 down to
    :math:`P^{-(K-1)/K}`, so periods run from :math:`2\pi` to almost :math:`2\pi P`. These are Vaswani's
    :math:`\sin(t / P^{2i/D})` and :math:`\cos(t / P^{2i/D})` with the sines first and the cosines second
    rather than interleaved, as in the DDPM code [Ho2020]_ (a fixed permutation of the features, which a
    following linear layer absorbs). The module has no parameters.

    Parameters
    ----------
    dim
        Embedding size :math:`D`, an even integer >= 2.
    max_period
        :math:`P > 0`, the period scale of the slowest frequency.

    Notes
    -----
    Input ``t`` of shape ``(batch,)`` or ``(batch, 1)`` (integer steps or real times); output of shape
    ``(batch, dim)``, in ``t``'s floating dtype (the default dtype for integer ``t``).

    Raises
    ------
    ValueError
        If ``dim`` is odd or < 2, ``max_period`` is not positive, or ``t`` has another shape.

    Examples
    --------
    >>> import torch
    >>> SinusoidalEmbedding(4)(torch.tensor([0.0, 1.0])).shape
    torch.Size([2, 4])
    >>> SinusoidalEmbedding(2)(torch.tensor([0.0]))  # sin(0), cos(0)
    tensor([[0., 1.]])
    """

    def __init__(self, dim: int, max_period: float = 10000.0) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=2)
        if self.dim % 2:
            raise ValueError(f"dim: expected an even integer >= 2, got {dim}.")
        self.max_period = check_positive(max_period, "max_period")

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if t.ndim == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.ndim != 1:
            raise ValueError(f"t: expected shape (batch,) or (batch, 1), got {tuple(t.shape)}.")
        dtype = t.dtype if t.is_floating_point() else torch.get_default_dtype()
        half = self.dim // 2  # the frequencies are made in t's dtype, so float64 times keep full precision
        omega = torch.exp(-math.log(self.max_period) / half * torch.arange(half, dtype=dtype, device=t.device))
        angles = t.to(dtype)[:, None] * omega
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_period={self.max_period}"


class TimeConditionedMLP(nn.Module):
    r"""An MLP :math:`v_\theta(x, t) = \mathrm{MLP}\bigl([x, e(t)]\bigr)` of a point and a time.

    The time is embedded by :class:`SinusoidalEmbedding` and concatenated to :math:`x`; the result goes through
    an :class:`~pgm_ppl.nn.MLP`. This is the vector field of flow matching and the noise (score) network of
    denoising diffusion on vector data.

    Parameters
    ----------
    features
        Size :math:`d` of :math:`x`'s last axis.
    out_features
        Size of the output's last axis; None gives ``features`` (a vector field on :math:`\mathbb{R}^d`).
    hidden_features
        Hidden widths of the MLP.
    activation
        Hidden activation name, one of :data:`~pgm_ppl.nn.ACTIVATIONS` (SiLU by default, as in DDPM).
    time_features
        Size of the time embedding :math:`e(t)` (even).
    max_period
        The embedding's period scale :math:`P`.

    Notes
    -----
    ``forward(x, t)`` takes ``x`` of shape ``(batch, features)`` and ``t`` of shape ``()``, ``(batch,)`` or
    ``(batch, 1)`` (a 0-d ``t``, as an ODE solver passes, is shared by the batch); it returns
    ``(batch, out_features)``. ``torchdiffeq.odeint`` calls ``f(t, x)``: wrap it as
    ``lambda t, x: net(x, t)``.

    Raises
    ------
    ValueError
        For a bad size or activation name at construction; for a ``t`` whose batch does not match ``x``'s.

    Examples
    --------
    >>> import torch
    >>> v = TimeConditionedMLP(2, hidden_features=(32, 32), time_features=8)
    >>> v(torch.zeros(5, 2), torch.tensor(0.5)).shape
    torch.Size([5, 2])
    """

    def __init__(self, features: int, out_features: int | None = None,
                 hidden_features: Sequence[int] | int = (64, 64), activation: str = "silu",
                 time_features: int = 32, max_period: float = 10000.0) -> None:
        super().__init__()
        self.features = check_int(features, "features")
        self.out_features = self.features if out_features is None else check_int(out_features, "out_features")
        self.embedding = SinusoidalEmbedding(time_features, max_period)
        self.net = MLP(self.features + self.embedding.dim, self.out_features, hidden_features, activation)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        elif t.shape[0] != x.shape[0]:
            raise ValueError(f"t: expected a scalar or a batch of {x.shape[0]} times to match x of shape "
                             f"{tuple(x.shape)}, got shape {tuple(t.shape)}.")
        return self.net(torch.cat([x, self.embedding(t)], dim=-1))
