r"""The probability-flow ODE of a DDPM as a continuous flow: deterministic samples and exact log-likelihoods.

Course-map row 9.19. The forward process is the variance-preserving SDE :math:`dx = -\tfrac12\beta(\tau)x\,d\tau +
\sqrt{\beta(\tau)}\,dw` (time :math:`\tau` in step units, :math:`\log\bar\alpha(\tau)` linear between steps, so its
marginals at integer :math:`\tau` are (9.12)); its probability-flow ODE (Song et al. 2021b)

.. math::
    \frac{dx}{d\tau} = f(x, \tau) - \tfrac12 g(\tau)^2 \nabla_x \log p_\tau(x)
                     = -\tfrac12\beta(\tau)\Bigl(x - \frac{\varepsilon_\theta(x, \tau)}{\sqrt{1-\bar\alpha(\tau)}}\Bigr)

(the notes' :math:`v^\star = f - \tfrac12 g^2 \nabla\log p_t`, with the score :math:`-\varepsilon/\sqrt{1-\bar\alpha}`)
has the same marginals. Its right-hand side is singular at :math:`\tau = 0` (:math:`1-\bar\alpha \to 0`), so we
solve it with DDIM's time variable :math:`\bar\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}` (Song, Meng & Ermon 2021a,
eq. (14), where :math:`d\bar x/d\bar\sigma = \varepsilon_\theta` for :math:`\bar x = x/\sqrt{\bar\alpha}`), keeping
:math:`x` itself as the state: with :math:`\bar\alpha = 1/(1+\bar\sigma^2)`,

.. math::
    \frac{dx}{d\bar\sigma} = \sqrt{\bar\alpha}\,\Bigl(\varepsilon_\theta\bigl(x, \tau(\bar\sigma)\bigr)
        - \sqrt{1-\bar\alpha}\,x\Bigr) = \bar\alpha\, v_\theta,

the same ODE after a change of time (substitute and differentiate), smooth down to :math:`\bar\sigma = 0`, and
close to zero where the data are pure noise (:math:`\varepsilon \approx \sqrt{1-\bar\alpha}\,x`), which keeps
Hutchinson's trace estimate of low variance (in :math:`\bar x` the log-determinant would carry
:math:`d\log\bar\sigma_T` of probe noise). The solver's clock is :math:`u = \log(1 + \bar\sigma)`
(:math:`dx/du = (1+\bar\sigma)\,dx/d\bar\sigma`): like :math:`\bar\sigma` near the data, logarithmic in the long
noise tail (:math:`\bar\sigma_T` is ~160 for the linear schedule, ~2e4 for the cosine one), so an adaptive solver
starting in the tail, where the field is nearly zero, cannot step over the short stretch where it acts. The base
of the flow is the model's :math:`p(x_T) = \mathcal N(0, I)` at :math:`t_0 = \log(1+\bar\sigma_T)`; the data
are at :math:`t_1 = 0`. The flow is
:class:`pgm_ppl.flows.continuous.ContinuousFlowModel`: ``log_prob`` integrates the divergence along the solve
(exact, or Hutchinson's estimate in high dimension) and is the exact log-density of the model that draws
:math:`x_T` and follows the ODE.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from pgm_ppl.flows.continuous import ContinuousFlowModel

__all__ = ["probability_flow", "probability_flow_log_prob", "probability_flow_sample"]


class _DDIMField(nn.Module):
    r"""The field :math:`dx/du = (1+\bar\sigma)\sqrt{\bar\alpha}(\varepsilon_\theta(x, \tau(\bar\sigma))
    - \sqrt{1-\bar\alpha}\,x)` at :math:`u = \log(1+\bar\sigma)`."""

    def __init__(self, denoiser: nn.Module, y: torch.Tensor | None, guidance_weight: float | None) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.y = y
        self.guidance_weight = guidance_weight

    def forward(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        sigma_bar = torch.expm1(u.to(torch.float64))
        log_alpha_bar = -torch.log1p(sigma_bar ** 2)
        tau = self.denoiser.schedule.time_of_log_alpha_bar(log_alpha_bar)
        alpha_bar = torch.exp(log_alpha_bar)
        t = tau.to(x.dtype).expand(x.shape[0])
        y = self.y
        if y is not None and y.shape[0] != x.shape[0]:
            raise ValueError(f"y: expected {x.shape[0]} labels, got {y.shape[0]}.")
        eps = self.denoiser.epsilon(x, t, y, self.guidance_weight)
        return ((1 + sigma_bar) * alpha_bar.sqrt()).to(x.dtype) * (eps - (1 - alpha_bar).sqrt().to(x.dtype) * x)


def probability_flow(denoiser: nn.Module, *, y: torch.Tensor | None = None, guidance_weight: float | None = None,
                     solver: str = "dopri5", num_steps: int = 100, atol: float | None = None,
                     rtol: float | None = None, trace: str | None = None, probe: str = "rademacher"
                     ) -> ContinuousFlowModel:
    r"""The probability-flow ODE of ``denoiser`` (a :class:`~pgm_ppl.diffusion.DDPM`, or any module with a
    ``schedule`` and ``epsilon(x, t, y, guidance_weight)``) as a continuous-flow model (module docstring).

    Parameters
    ----------
    y, guidance_weight
        Labels (one per row of every batch it will see) and guidance weight of a conditional model.
    solver, num_steps, atol, rtol
        The ODE solver (:class:`~pgm_ppl.flows.continuous.ContinuousFlow`); tolerances default to the model's
        ``ode_tol`` (or 1e-5).
    trace, probe
        ``"exact"`` or ``"hutchinson"``; default: the model's choice (exact up to 8 features). Hutchinson's probe,
        ``"rademacher"`` (exact whenever the field's Jacobian is diagonal) or ``"gaussian"``.

    Returns
    -------
    ContinuousFlowModel
        With ``log_prob(x)`` (nats per row), ``sample(n)``, and ``flow`` (``flow.trajectory``, ``flow.nfe``);
        ``t0`` = :math:`\log(1+\bar\sigma_T)`, ``t1`` = 0.
    """
    schedule = denoiser.schedule
    alpha_bar_T = float(schedule.alpha_bars[-1])
    sigma_bar_T = ((1.0 - alpha_bar_T) / alpha_bar_T) ** 0.5
    tol = float(getattr(denoiser, "ode_tol", 1e-5))
    features = getattr(getattr(denoiser, "network", None), "features", None)  # base: N(0, I), the model's p(x_T)
    if trace is None:
        use_hutchinson = getattr(denoiser, "_use_hutchinson", None)
        trace = "hutchinson" if use_hutchinson is not None and use_hutchinson() else "exact"
    if features is None:
        raise ValueError("denoiser: expected a network with a 'features' attribute (the data dimension).")
    return ContinuousFlowModel(_DDIMField(denoiser, y, guidance_weight), features=features,
                               t0=math.log1p(sigma_bar_T), t1=0.0, solver=solver, num_steps=num_steps,
                               atol=tol if atol is None else atol, rtol=tol if rtol is None else rtol, trace=trace,
                               probe=probe)


def probability_flow_log_prob(denoiser: nn.Module, x: torch.Tensor, **options: Any) -> torch.Tensor:
    r""":math:`\log p_\theta(x)` per row (n,), nats, by the probability-flow ODE (:func:`probability_flow`)."""
    return probability_flow(denoiser, **options).log_prob(x)


def probability_flow_sample(denoiser: nn.Module, num_samples: int, **options: Any) -> torch.Tensor:
    """``num_samples`` deterministic transports of :math:`x_T \\sim \\mathcal N(0, I)`, shape (n, d)."""
    return probability_flow(denoiser, **options).sample(num_samples)
