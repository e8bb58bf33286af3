r"""Rectified flow with reflow (Liu, Gong & Liu 2023), course eqs. (8.22)-(8.24).

1-rectified flow (1-RF) regresses a field onto :math:`x_1 - x_0` along straight lines between independent draws
(:func:`~pgm_ppl.flow_matching.rectified_flow`). Its ODE defines a deterministic coupling
:math:`(x_0, \phi_1(x_0))` with no larger transport cost for every convex cost (their Thm 3.5); *reflow* trains a
new rectified flow on these pairs, giving 2-RF, whose trajectories are straighter (straightness decreases with each
reflow, their Thm 3.7), so few Euler steps suffice. :func:`reflow_pairs` draws the pairs; :func:`reflow_model`
builds 2-RF initialised at the 1-RF weights (as Liu et al. do), to be trained by :func:`pgm_ppl.training.train`
on the pairs ``(X0, X1)``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int
from pgm_ppl.flow_matching.model import FlowMatchingModel, _reference
from pgm_ppl.flow_matching.paths import LinearPath

__all__ = ["reflow_model", "reflow_pairs"]


@torch.no_grad()
def reflow_pairs(model: FlowMatchingModel, num_pairs: int, *, seed: int = 0, solver: str = "rk4",
                 num_steps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """``num_pairs`` pairs :math:`(x_0, \\phi_1(x_0))`, :math:`x_0 \\sim \\mathcal N(0, I)`, of a trained model's
    ODE (``solver``, ``num_steps``), as two float numpy arrays ``(num_pairs, d)`` ready for ``train(..., (X0, X1))``.
    """
    num_pairs = check_int(num_pairs, "num_pairs")
    reference = _reference(model)
    with torch_seeded(check_int(seed, "seed", minimum=0)):
        x0 = torch.randn(num_pairs, model._features(), dtype=reference.dtype, device=reference.device)
    x1 = model.sample(num_pairs, x0=x0, solver=solver, num_steps=num_steps)
    return x0.cpu().numpy(), x1.cpu().numpy()


def reflow_model(model: FlowMatchingModel) -> FlowMatchingModel:
    """2-RF: a copy of the trained ``model`` (same field weights, solver settings) that trains on given pairs
    ``(x0, x1)`` along straight lines (:class:`LinearPath` with :math:`\\sigma = 0`, ``source="gaussian_pairs"``),
    so it still samples from :math:`\\mathcal N(0, I)` and has an exact ``log_prob``."""
    if not isinstance(model, FlowMatchingModel) or model.source != "gaussian":
        raise ValueError("model: expected a FlowMatchingModel with source='gaussian' (a rectified flow from N(0, I)), "
                         f"got {type(model).__name__}.")
    field = copy.deepcopy(model.field)
    return FlowMatchingModel(field, path=LinearPath(0.0), coupling="independent", source="gaussian_pairs",
                             solver=model.solver, num_steps=model.num_steps)
