r"""Closed forms for Gaussian data: the optimal noise predictor and the noised scores (references for the samplers).

For data :math:`x_0 \sim \mathcal N(m, \operatorname{diag}(s^2))`, the noised marginal is
:math:`q_t = \mathcal N(\sqrt{\bar\alpha_t}\,m, \operatorname{diag}(\bar\alpha_t s^2 + 1 - \bar\alpha_t))` and the
minimiser of :math:`\mathbb E\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2` is the conditional mean, linear in
:math:`x_t`:

.. math::
    \varepsilon^\star(x_t, t) = \mathbb E[\varepsilon \mid x_t]
      = \frac{\sqrt{1-\bar\alpha_t}\,(x_t - \sqrt{\bar\alpha_t}\,m)}{\bar\alpha_t s^2 + 1 - \bar\alpha_t}
      = -\sqrt{1-\bar\alpha_t}\,\nabla\log q_t(x_t).

Fed to the samplers, it must reproduce :math:`\mathcal N(m, s^2)` and the probability-flow ODE's log-density must
be the Gaussian's: the key checks of :mod:`pgm_ppl.diffusion`. For the variance-exploding perturbation
:math:`\tilde x = x + \sigma z` the score is :math:`-(\tilde x - m)/(s^2 + \sigma^2)`, the optimum of denoising
score matching (9.6).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pgm_ppl.diffusion.ddpm import DDPM
from pgm_ppl.diffusion.schedules import NoiseSchedule

__all__ = ["GaussianEpsilon", "gaussian_ddpm", "gaussian_noised_score"]


class GaussianEpsilon(nn.Module):
    r"""The exact noise predictor :math:`\varepsilon^\star(x_t, t)` of Gaussian data (module docstring), as a
    network ``forward(x_t, t)`` (``t`` float steps; :math:`\bar\alpha` from the schedule's continuous view,
    exact at integer steps). It has no parameters.

    Parameters
    ----------
    mean, scale
        :math:`m` and :math:`s > 0`, shape ``(d,)``.
    schedule
        The noise schedule.
    """

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor, schedule: NoiseSchedule) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float64).reshape(-1))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64).reshape(-1))
        self.features = int(self.mean.numel())
        self._schedule = (schedule,)  # not a submodule: the DDPM owns it

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device)
        t = t.expand(x_t.shape[0]) if t.ndim == 0 else t
        a = torch.exp(self._schedule[0].continuous_log_alpha_bar(t)).to(x_t.dtype)[:, None]
        m, s2 = self.mean.to(x_t.dtype), self.scale.to(x_t.dtype) ** 2
        return (1 - a).sqrt() * (x_t - a.sqrt() * m) / (a * s2 + 1 - a)


def gaussian_ddpm(mean: torch.Tensor, scale: torch.Tensor, schedule: NoiseSchedule, **options: Any) -> DDPM:
    r"""A :class:`~pgm_ppl.diffusion.DDPM` whose network is the exact :class:`GaussianEpsilon` of
    :math:`\mathcal N(m, \operatorname{diag}(s^2))` data (``options``: DDPM's, e.g. ``variance``)."""
    return DDPM(GaussianEpsilon(mean, scale, schedule), schedule, **options)


def gaussian_noised_score(x: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor, sigma: torch.Tensor | float
                          ) -> torch.Tensor:
    r"""The score :math:`-(x - m)/(s^2 + \sigma^2)` of :math:`\mathcal N(m, s^2) * \mathcal N(0, \sigma^2)`, per
    coordinate; ``sigma`` a scalar or one per row ((n, 1))."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return -(x - mean) / (scale ** 2 + sigma ** 2)
