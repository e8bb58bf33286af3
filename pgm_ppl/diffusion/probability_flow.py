r"""The probability-flow ODE of a DDPM as a continuous flow: deterministic samples and exact log-likelihoods.

Course-map row 9.19. The forward process is the variance-preserving SDE :math:`dx = -\tfrac12\beta(\tau)x\,d\tau +
\sqrt{\beta(\tau)}\,dw` (time :math:`\tau` in step units, :math:`\log\bar\alpha(\tau)` linear between steps, so its
marginals at integer :math:`\tau` are (9.12)); its probability-flow ODE (Song et al. 2021b)

.. math::
    \frac{dx}{d\tau} = f(x, \tau) - \tfrac12 g(\tau)^2 \nabla_x \log p_\tau(x)
                     = -\tfrac12\beta(\tau)\Bigl(x - \frac{\varepsilon_\theta(x, \tau)}{\sqrt{1-\bar\alpha(\tau)}}\Bigr)

(the notes' :math:`v^\star = f - \tfrac12 g^2 \nabla\log p_t`, with the score :math:`-\varepsilon/\sqrt{1-\bar\alpha}`)
has the same marginals. Its right-hand side is singular at :math:`\tau = 0` (:math:`1-\bar\alpha \to 0`), so we
solve it in the variables of DDIM's ODE (Song, Meng & Ermon 2021a, eq. (14)):

.. math::
    \bar x = x / \sqrt{\bar\alpha}, \qquad \bar\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}, \qquad
    \frac{d\bar x}{d\bar\sigma} = \varepsilon_\theta\bigl(\sqrt{\bar\alpha}\,\bar x, \tau(\bar\sigma)\bigr),

the same ODE after a change of time and a time-dependent scaling of the state (substitute and differentiate), with
a smooth right-hand side. At :math:`\bar\sigma = 0`, :math:`\bar x = x_0`; at :math:`\bar\sigma_T`,
:math:`\bar x = x_T / \sqrt{\bar\alpha_T}` with :math:`x_T \sim \mathcal N(0, I)`, so the base of the flow is
:math:`\mathcal N(0, \bar\alpha_T^{-1} I)`. The flow is :class:`pgm_ppl.flows.continuous.ContinuousFlowModel` from
:math:`t_0 = \bar\sigma_T` to :math:`t_1 = 0`: ``log_prob`` integrates the divergence along the solve (exact, or
Hutchinson's estimate in high dimension) and is the exact log-density of the model that draws :math:`x_T` and
follows the ODE.
"""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
import torch
from torch import nn

from pgm_ppl.flows.continuous import ContinuousFlowModel

__all__ = ["probability_flow", "probability_flow_log_prob", "probability_flow_sample"]


class _DDIMField(nn.Module):
    r"""The field :math:`d\bar x/d\bar\sigma = \varepsilon_\theta(\sqrt{\bar\alpha}\bar x, \tau(\bar\sigma))`."""

    def __init__(self, denoiser: nn.Module, y: torch.Tensor | None, guidance_weight: float | None) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.y = y
        self.guidance_weight = guidance_weight

    def forward(self, sigma_bar: torch.Tensor, x_bar: torch.Tensor) -> torch.Tensor:
        log_alpha_bar = -torch.log1p(sigma_bar.to(torch.float64) ** 2)
        tau = self.denoiser.schedule.time_of_log_alpha_bar(log_alpha_bar)
        scale = torch.exp(0.5 * log_alpha_bar).to(x_bar.dtype)
        t = tau.to(x_bar.dtype).expand(x_bar.shape[0])
        y = self.y
        if y is not None and y.shape[0] != x_bar.shape[0]:
            raise ValueError(f"y: expected {x_bar.shape[0]} labels, got {y.shape[0]}.")
        return self.denoiser.epsilon(scale * x_bar, t, y, self.guidance_weight)


def probability_flow(denoiser: nn.Module, *, y: torch.Tensor | None = None, guidance_weight: float | None = None,
                     solver: str = "dopri5", num_steps: int = 100, atol: float | None = None,
                     rtol: float | None = None, trace: str | None = None) -> ContinuousFlowModel:
    r"""The probability-flow ODE of ``denoiser`` (a :class:`~pgm_ppl.diffusion.DDPM`, or any module with a
    ``schedule`` and ``epsilon(x, t, y, guidance_weight)``) as a continuous-flow model (module docstring).

    Parameters
    ----------
    y, guidance_weight
        Labels (one per row of every batch it will see) and guidance weight of a conditional model.
    solver, num_steps, atol, rtol
        The ODE solver (:class:`~pgm_ppl.flows.continuous.ContinuousFlow`); tolerances default to the model's
        ``ode_tol`` (or 1e-5).
    trace
        ``"exact"`` or ``"hutchinson"``; default: the model's choice (exact up to 8 features).

    Returns
    -------
    ContinuousFlowModel
        With ``log_prob(x)`` (nats per row), ``sample(n)``, and ``flow`` (``flow.trajectory``, ``flow.nfe``);
        ``t0`` = :math:`\bar\sigma_T`, ``t1`` = 0.
    """
    schedule = denoiser.schedule
    alpha_bar_T = float(schedule.alpha_bars[-1])
    sigma_bar_T = ((1.0 - alpha_bar_T) / alpha_bar_T) ** 0.5
    tol = float(getattr(denoiser, "ode_tol", 1e-5))
    features = getattr(getattr(denoiser, "network", None), "features", None)
    if trace is None:
        use_hutchinson = getattr(denoiser, "_use_hutchinson", None)
        trace = "hutchinson" if use_hutchinson is not None and use_hutchinson() else "exact"
    if features is None:
        raise ValueError("denoiser: expected a network with a 'features' attribute (the data dimension).")
    base_scale = alpha_bar_T ** -0.5

    def base(dtype: torch.dtype, device: Any) -> dist.Distribution:
        zeros = torch.zeros(features, dtype=dtype, device=device)
        return dist.Normal(zeros, torch.full_like(zeros, base_scale)).to_event(1)

    return ContinuousFlowModel(_DDIMField(denoiser, y, guidance_weight), features=features, base=base,
                               t0=sigma_bar_T, t1=0.0, solver=solver, num_steps=num_steps,
                               atol=tol if atol is None else atol, rtol=tol if rtol is None else rtol, trace=trace)


def probability_flow_log_prob(denoiser: nn.Module, x: torch.Tensor, **options: Any) -> torch.Tensor:
    r""":math:`\log p_\theta(x)` per row (n,), nats, by the probability-flow ODE (:func:`probability_flow`)."""
    return probability_flow(denoiser, **options).log_prob(x)


def probability_flow_sample(denoiser: nn.Module, num_samples: int, **options: Any) -> torch.Tensor:
    """``num_samples`` deterministic transports of :math:`x_T \\sim \\mathcal N(0, I)`, shape (n, d)."""
    return probability_flow(denoiser, **options).sample(num_samples)
