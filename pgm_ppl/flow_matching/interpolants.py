r"""Stochastic interpolants (Albergo & Vanden-Eijnden 2023; Albergo, Boffi & Vanden-Eijnden 2023).

The interpolant :math:`x_t = I(t, x_0, x_1) + \gamma(t) z` with :math:`I = (1-t)x_0 + t x_1`,
:math:`\gamma(t) = \sigma\sqrt{t(1-t)}` and :math:`z \sim \mathcal N(0, I)` (the path
:class:`~pgm_ppl.flow_matching.BrownianBridgePath`) has a marginal density :math:`\rho_t` that satisfies a transport
equation with the **velocity** :math:`b(t, x) = \mathbb E[\dot I + \dot\gamma z \mid x_t = x]` and whose **score**
is :math:`s(t, x) = \nabla \log\rho_t(x) = -\mathbb E[z \mid x_t = x] / \gamma(t)`. Both are learned by regression
(quadratic losses, **not ELBOs**; run by :func:`pgm_ppl.training.train` as a custom loss):

.. math::
    \mathcal L_b = \mathbb E\,\tfrac1d\|b_\theta(t, x_t) - \dot I - \dot\gamma z\|^2,\qquad
    \mathcal L_\eta = \mathbb E\,\tfrac1d\|\eta_\theta(t, x_t) - z\|^2,\qquad s_\theta = -\eta_\theta/\gamma.

Samples come from the probability-flow ODE :math:`\dot x = b(t, x)` (a :class:`pgm_ppl.flows.ContinuousFlow`, with
its exact likelihood) or from the SDE :math:`dX_t = [b + \epsilon\, s](t, X_t)\,dt + \sqrt{2\epsilon}\,dW_t` for any
diffusion :math:`\epsilon \ge 0`, which has the same marginals :math:`\rho_t` (their Thm 2.8), simulated by
Euler-Maruyama.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int, check_positive
from pgm_ppl.flow_matching.couplings import Coupling, IndependentCoupling, make_coupling
from pgm_ppl.flow_matching.model import SOLVERS, VectorField
from pgm_ppl.flow_matching.paths import BrownianBridgePath
from pgm_ppl.flows.continuous import ContinuousFlow

__all__ = ["StochasticInterpolant", "stochastic_interpolant"]


class StochasticInterpolant(nn.Module):
    r"""A stochastic interpolant from :math:`\mathcal N(0, I)` to the data with learned velocity and score.

    Parameters
    ----------
    velocity, denoiser
        Fields :math:`b_\theta(t, x)` and :math:`\eta_\theta(t, x) \approx \mathbb E[z \mid x_t = x]`
        (:class:`~pgm_ppl.flow_matching.VectorField`), each with a ``features`` attribute.
    sigma
        :math:`\gamma(t) = \sigma\sqrt{t(1-t)}`.
    coupling
        Of the source and data batches (``"independent"`` by default).

    Notes
    -----
    Batches are data rows :math:`x_1`; :math:`x_0 \sim \mathcal N(0, I)`. ``log_prob`` is the exact density of the
    ODE model (``log_prob_kind = "exact"``).
    """

    log_prob_kind = "exact"

    def __init__(self, velocity: nn.Module, denoiser: nn.Module, *, sigma: float = 1.0,
                 coupling: str | Coupling = "independent", num_steps: int = 100) -> None:
        super().__init__()
        self.velocity, self.denoiser = velocity, denoiser
        self.path = BrownianBridgePath(sigma)
        self.coupling = make_coupling(coupling)
        self.features = int(velocity.features)
        self.num_steps = check_int(num_steps, "num_steps")

    def loss(self, batch: Any) -> torch.Tensor:
        r""":math:`\mathcal L_b + \mathcal L_\eta` on one batch (module docstring)."""
        x1 = batch[0] if isinstance(batch, (tuple, list)) else batch
        x0 = torch.randn_like(x1)
        if not isinstance(self.coupling, IndependentCoupling):
            x0, x1 = self.coupling(x0, x1)
        t = torch.rand(x1.shape[0], dtype=x1.dtype, device=x1.device)
        xt, ut, z = self.path.sample_and_target(t, x0, x1)
        return (self.velocity(t, xt) - ut).pow(2).mean() + (self.denoiser(t, xt) - z).pow(2).mean()

    def score(self, t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        r"""The learned score :math:`s_\theta(t, x) = -\eta_\theta(t, x)/\gamma(t)` for :math:`0 < t < 1`, ``(n, d)``."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        gamma = self.path.coefficients(t)[2]
        return -self.denoiser(t, x) / (gamma.reshape(-1, 1) if gamma.ndim else gamma)

    def flow(self, *, solver: str = "euler", num_steps: int | None = None, atol: float = 1e-5,
             rtol: float = 1e-5) -> ContinuousFlow:
        """The probability-flow ODE :math:`\\dot x = b_\\theta(t, x)` as a continuous flow from t = 0 to t = 1."""
        return ContinuousFlow(self.velocity, features=self.features, t0=0.0, t1=1.0,
                              solver=check_choice(solver, "solver", SOLVERS),
                              num_steps=self.num_steps if num_steps is None else num_steps, atol=atol, rtol=rtol)

    @torch.no_grad()
    def sample(self, num_samples: int, *, sampler: str = "ode", diffusion: float = 1.0, solver: str = "euler",
               num_steps: int | None = None, x0: torch.Tensor | None = None) -> torch.Tensor:
        r"""Draw ``num_samples`` rows by the ODE (``sampler="ode"``, with ``solver``) or the SDE
        (``sampler="sde"``, Euler-Maruyama with diffusion :math:`\epsilon` = ``diffusion``), shape ``(n, d)``.

        The SDE's drift :math:`b + \epsilon s` is evaluated at the midpoint of each of the ``num_steps`` steps
        (the score is singular at t = 0 and 1, where :math:`\gamma = 0`); torch's current generator is used.
        """
        check_choice(sampler, "sampler", ("ode", "sde"))
        steps = self.num_steps if num_steps is None else check_int(num_steps, "num_steps")
        reference = next(self.parameters())
        x = (torch.randn(check_int(num_samples, "num_samples"), self.features, dtype=reference.dtype,
                         device=reference.device) if x0 is None else torch.as_tensor(x0, dtype=reference.dtype))
        if sampler == "ode":
            return self.flow(solver=solver, num_steps=steps).transport(x)
        epsilon = check_positive(diffusion, "diffusion", allow_zero=True)
        h = 1.0 / steps
        for k in range(steps):
            t = torch.tensor((k + 0.5) * h, dtype=x.dtype, device=x.device)
            drift = self.velocity(t, x) + epsilon * self.score(t, x)
            x = x + drift * h + math.sqrt(2 * epsilon * h) * torch.randn_like(x)
        return x

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density (nats, ``(n,)``) of the probability-flow ODE model by one adaptive solve backwards."""
        reference = next(self.parameters())
        x = torch.as_tensor(x, dtype=reference.dtype, device=reference.device)
        x0, delta = self.flow(solver="dopri5").integrate(x, 1.0, 0.0)
        return -0.5 * x0.pow(2).sum(-1) - 0.5 * self.features * math.log(2 * math.pi) + delta


def stochastic_interpolant(features: int, *, sigma: float = 1.0, hidden_features: Sequence[int] | int = (64, 64, 64),
                           activation: str = "selu", num_steps: int = 100, seed: int = 0) -> StochasticInterpolant:
    """A :class:`StochasticInterpolant` with two :class:`~pgm_ppl.flow_matching.VectorField` MLPs (velocity and
    denoiser), weights drawn under ``torch_seeded(seed)``."""
    features = check_int(features, "features")
    with torch_seeded(check_int(seed, "seed", minimum=0)):
        velocity = VectorField(features, hidden_features, activation)
        denoiser = VectorField(features, hidden_features, activation)
    return StochasticInterpolant(velocity, denoiser, sigma=sigma, num_steps=num_steps)
