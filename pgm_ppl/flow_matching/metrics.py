r"""How straight and how cheap a learned flow is: path energy, NPE, straightness, quality against NFE.

For the learned ODE :math:`\dot x_t = v_\theta(t, x_t)` started at :math:`x_0 \sim p`:

* path energy :math:`\mathrm{PE} = \mathbb E_{x_0} \int_0^1 \|v_\theta(t, x_t)\|^2\,dt`. By Benamou-Brenier
  (course ch. 5), :math:`\mathrm{PE} \ge W_2^2(p, p_1)` with equality iff the flow is the dynamic OT map;
* normalised path energy (Tong et al. 2024, §5.1) :math:`\mathrm{NPE} = |\mathrm{PE} - W_2^2(p, q)| / W_2^2(p, q)`,
  0 iff the learned ODE is the dynamic OT map (when it transports :math:`p` to :math:`q`), with :math:`W_2^2`
  the exact OT cost between samples (:func:`pgm_ppl.ot.minibatch_ot_coupling`);
* straightness (Liu et al. 2023, Def. 2.2) :math:`S = \mathbb E \int_0^1 \|(x_1 - x_0) - v_\theta(t, x_t)\|^2\,dt`,
  0 iff every trajectory is a straight line run at constant speed (one Euler step is then exact).

All integrals are Riemann sums on the ``num_steps`` Euler steps of the trajectory (the left end-point rule the
runner of Tong et al. uses with 100 steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from pgm_ppl.core.validation import check_int
from pgm_ppl.ot import minibatch_ot_coupling, w2_samples

__all__ = ["PathStatistics", "normalized_path_energy", "path_statistics", "quality_vs_nfe"]


class PathStatistics(NamedTuple):
    """``path_energy`` PE, ``straightness`` S (both per row averaged, squared units of x), the end points ``x1``."""

    path_energy: float
    straightness: float
    x1: torch.Tensor


@torch.no_grad()
def path_statistics(field: Any, x0: torch.Tensor, *, num_steps: int = 100,
                    context: torch.Tensor | None = None) -> PathStatistics:
    r"""Path energy and straightness of the Euler trajectories of ``field`` from the rows ``x0`` (module docstring).

    Parameters
    ----------
    field
        ``field(t, x)`` (or ``field(t, x, context)``), e.g. a trained model's ``field``.
    x0
        Start points, shape ``(n, d)``.
    num_steps
        Euler steps on [0, 1].
    """
    num_steps = check_int(num_steps, "num_steps")
    h = 1.0 / num_steps
    x = x0
    velocities = []
    for k in range(num_steps):
        t = torch.tensor(k * h, dtype=x.dtype, device=x.device)
        v = field(t, x) if context is None else field(t, x, context)
        velocities.append(v)
        x = x + h * v
    displacement = x - x0
    energy = sum(v.pow(2).sum(-1) for v in velocities) * h
    straight = sum((displacement - v).pow(2).sum(-1) for v in velocities) * h
    return PathStatistics(float(energy.mean()), float(straight.mean()), x)


def normalized_path_energy(field: Any, x0: torch.Tensor, x1_reference: torch.Tensor | np.ndarray, *,
                           num_steps: int = 100) -> float:
    r"""Tong et al.'s NPE :math:`|\mathrm{PE} - W_2^2| / W_2^2` from the rows ``x0`` (module docstring).

    ``x1_reference`` is a target sample of the same size as ``x0``; :math:`W_2^2` is the exact OT cost between
    ``x0`` and it (the optimal permutation's mean squared distance).
    """
    stats = path_statistics(field, x0, num_steps=num_steps)
    reference = torch.as_tensor(x1_reference, dtype=x0.dtype, device=x0.device)
    w2_sq = minibatch_ot_coupling(x0.detach(), reference).cost
    return abs(stats.path_energy - w2_sq) / w2_sq


@torch.no_grad()
def quality_vs_nfe(model: Any, reference: torch.Tensor | np.ndarray, *, x0: torch.Tensor,
                   settings: Sequence[tuple[str, int]] = (("euler", 1), ("euler", 2), ("euler", 4), ("euler", 8),
                                                          ("euler", 100), ("midpoint", 4), ("rk4", 2), ("rk4", 8),
                                                          ("dopri5", 1))) -> list[dict[str, Any]]:
    r"""Sample quality (exact :math:`W_2` to ``reference``) against the number of field evaluations (NFE).

    For each ``(solver, num_steps)`` of ``settings``, ``model.sample(x0=x0, solver=..., num_steps=...)`` pushes the
    rows ``x0`` to t = 1 (``num_steps`` is ignored by the adaptive ``"dopri5"``); the NFE is the continuous flow's
    count. Returns one dict per setting: ``solver``, ``num_steps``, ``nfe``, ``w2``.
    """
    reference = torch.as_tensor(reference, dtype=x0.dtype)
    rows = []
    for solver, num_steps in settings:
        x1 = model.sample(x0.shape[0], x0=x0, solver=solver, num_steps=num_steps)
        rows.append({"solver": solver, "num_steps": num_steps if solver != "dopri5" else None,
                     "nfe": int(model.last_nfe), "w2": float(w2_samples(x1.double(), reference.double()))})
    return rows
