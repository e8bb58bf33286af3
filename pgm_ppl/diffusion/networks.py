r"""Networks of the diffusion models: a label-conditioned time network for classifier-free guidance.

The unconditional networks are :class:`pgm_ppl.nn.TimeConditionedMLP` (DDPM's :math:`\varepsilon_\theta(x, t)`,
NCSN's :math:`s_\theta(x, \sigma)`). Classifier-free guidance (Ho & Salimans 2022) trains one network on
:math:`(x_t, t, y)` with the label replaced by a "null" label :math:`\varnothing` at a fixed rate, so the same
weights give the conditional and the unconditional predictions.

References
----------
.. [HoSalimans2022] J. Ho and T. Salimans, "Classifier-free diffusion guidance", NeurIPS 2021 workshop
   (arXiv:2207.12598).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pgm_ppl.core.validation import check_int
from pgm_ppl.nn import TimeConditionedMLP

__all__ = ["LabelConditionedMLP"]


class LabelConditionedMLP(nn.Module):
    r""":math:`f_\theta(x, t, y) = \mathrm{MLP}([x, e(y), e(t)])`: a time network with a learned label embedding.

    Labels are integers :math:`y \in \{0, \dots, C-1\}`; the index :math:`C` (``null_label``) is the null
    label :math:`\varnothing` of classifier-free guidance.

    Parameters
    ----------
    features
        Size :math:`d` of :math:`x`'s last axis (the output has the same size).
    num_classes
        :math:`C \ge 1`.
    hidden_features, activation, time_features
        As :class:`~pgm_ppl.nn.TimeConditionedMLP`.
    label_features
        Size of the label embedding :math:`e(y)`.

    Notes
    -----
    ``forward(x, t, y)``: ``x`` (n, d), ``t`` a scalar or (n,), ``y`` (n,) integers in :math:`\{0, \dots, C\}`.
    """

    def __init__(self, features: int, num_classes: int, hidden_features: Sequence[int] | int = (128, 128, 128),
                 activation: str = "silu", time_features: int = 32, label_features: int = 16) -> None:
        super().__init__()
        self.features = check_int(features, "features")
        self.num_classes = check_int(num_classes, "num_classes")
        self.label_embedding = nn.Embedding(self.num_classes + 1, check_int(label_features, "label_features"))
        self.net = TimeConditionedMLP(self.features + label_features, self.features, hidden_features, activation,
                                      time_features)

    @property
    def null_label(self) -> int:
        r"""The index of the null label :math:`\varnothing` (= ``num_classes``)."""
        return self.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor) -> torch.Tensor:
        y = torch.as_tensor(y, dtype=torch.long, device=x.device).reshape(-1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"y: expected {x.shape[0]} labels to match x of shape {tuple(x.shape)}, "
                             f"got shape {tuple(y.shape)}.")
        if bool(((y < 0) | (y > self.num_classes)).any()):
            raise ValueError(f"y: expected integer labels in [0, {self.num_classes - 1}] (or the null label "
                             f"{self.num_classes}), got values in [{int(y.min())}, {int(y.max())}].")
        return self.net(torch.cat([x, self.label_embedding(y).to(x.dtype)], dim=-1), t)
