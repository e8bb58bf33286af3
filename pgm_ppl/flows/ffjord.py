r"""FFJORD (Grathwohl et al. 2019): a continuous normalising flow with a neural field, ready to train.

:func:`cnf` builds a :class:`~pgm_ppl.flows.continuous.ContinuousFlowModel` whose field is a
:class:`~pgm_ppl.nn.TimeConditionedMLP` :math:`v_\theta(t, x)` (smooth activation, as an adaptive solver needs),
so ``train(cnf(d), X)`` is maximum likelihood by the instantaneous change of variables (course Remark 8.6), with the
exact trace for small :math:`d` or Hutchinson's estimator (Remark 8.7) above it. It is the ``pgm-ppl train`` entry
``"cnf"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int
from pgm_ppl.flows.continuous import ContinuousFlowModel
from pgm_ppl.nn import TimeConditionedMLP

__all__ = ["NeuralField", "cnf"]


class NeuralField(nn.Module):
    """The field ``field(t, x) = net(x, t)`` of a :class:`~pgm_ppl.nn.TimeConditionedMLP` (the solver's argument
    order)."""

    def __init__(self, net: TimeConditionedMLP) -> None:
        super().__init__()
        self.net = net

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, t)


def cnf(features: int, *, hidden_features: int | Sequence[int] = (64, 64), activation: str = "tanh",
        time_features: int = 16, solver: str = "dopri5", num_steps: int = 20, atol: float = 1e-5,
        rtol: float = 1e-5, trace: str = "exact", probe: str = "rademacher", adjoint: bool = False,
        seed: int = 0) -> ContinuousFlowModel:
    r"""A continuous normalising flow :math:`\dot x = v_\theta(t, x)` from :math:`\mathcal N(0, I)` at
    :math:`t = 0` to the data at :math:`t = 1` (FFJORD).

    Parameters
    ----------
    features
        :math:`d`.
    hidden_features, activation, time_features
        The field's MLP (an integer ``h`` means ``(h, h)``), its activation (smooth: ``"tanh"``, ``"silu"``,
        ``"softplus"``) and the size of the sinusoidal time embedding.
    solver, num_steps, atol, rtol, trace, probe, adjoint
        See :class:`~pgm_ppl.flows.continuous.ContinuousFlow` (``trace="hutchinson"`` for large :math:`d`: the
        model's ``log_prob`` is then an unbiased estimate, ``log_prob_kind = "estimate"``).
    seed
        The field's initial weights (drawn under :func:`~pgm_ppl.backend.seeding.torch_seeded`).

    Raises
    ------
    ValueError, TypeError
        Bad sizes, names or tolerances (named by :class:`~pgm_ppl.flows.continuous.ContinuousFlow`).
    """
    check_int(features, "features")
    check_int(seed, "seed", minimum=0)
    hidden = (hidden_features, hidden_features) if isinstance(hidden_features, int) else tuple(hidden_features)
    with torch_seeded(seed):
        net = TimeConditionedMLP(features, hidden_features=hidden, activation=activation,
                                 time_features=time_features)
    return ContinuousFlowModel(NeuralField(net), features=features, solver=solver, num_steps=num_steps, atol=atol,
                               rtol=rtol, trace=trace, probe=probe, adjoint=adjoint)
