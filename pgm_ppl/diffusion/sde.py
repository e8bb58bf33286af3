r"""Diffusions as SDEs: the VP and VE processes, reverse-time Euler–Maruyama and predictor–corrector sampling.

Course-map row 9.19 (the notes' :math:`dx = f(x, t)\,dt + g(t)\,dw`). Following Song et al. (2021b, "Score-based
generative modelling through SDEs", sde_lib), a forward SDE with marginals
:math:`p_t(x_t \mid x_0) = \mathcal N(\mu_t x_0, \varsigma_t^2 I)` has the reverse-time SDE

.. math::
    dx = \bigl[f(x, t) - g(t)^2 \nabla_x\log p_t(x)\bigr]dt + g(t)\,d\bar w

(Anderson 1982), run from :math:`t_{\max}` down to :math:`t_{\min}` with the learned score in place of
:math:`\nabla\log p_t`. Processes:

* :class:`VPSDE` — variance preserving, :math:`f = -\tfrac12\beta(t)x`, :math:`g = \sqrt{\beta(t)}`,
  :math:`\beta(t) = \beta_{\min} + t(\beta_{\max} - \beta_{\min})` on :math:`[0, 1]`: the continuous DDPM.
* :class:`VESDE` — variance exploding, :math:`f = 0`, :math:`\sigma(t) = \sigma_{\min}(\sigma_{\max}/
  \sigma_{\min})^t`, :math:`g = \sigma(t)\sqrt{2\log(\sigma_{\max}/\sigma_{\min})}`: the continuous NCSN
  (geometric noise levels, Alg. 7). Its marginal standard deviation is taken as :math:`\sigma(t)` (Song et al.'s
  convention; exactly :math:`\sqrt{\sigma(t)^2 - \sigma_{\min}^2}` from :math:`x_0`).
* :class:`DiscreteVPSDE` — the VP SDE of a DDPM's schedule in step units (:math:`\beta(\tau) =
  -\tfrac{d}{d\tau}\log\bar\alpha(\tau)`), whose marginals at integer steps are exactly (9.12).

Samplers: :func:`reverse_sde_sample` with Euler–Maruyama predictor steps and, optionally, Langevin corrector
steps whose size is set by a signal-to-noise ratio (Song et al. 2021b, Algs. 4-5; corrector step
:math:`\epsilon = 2(r\|z\|/\|s\|)^2`, :math:`x \leftarrow x + \epsilon s + \sqrt{2\epsilon}z`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from pgm_ppl.diffusion._util import maybe_seeded
from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.diffusion.schedules import NoiseSchedule

__all__ = ["DiscreteVPSDE", "VESDE", "VPSDE", "reverse_sde_sample"]


class VPSDE:
    r"""Variance-preserving SDE on :math:`[0, 1]` (module docstring); prior :math:`\mathcal N(0, I)`."""

    t_max = 1.0

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3) -> None:
        self.beta_min = check_positive(beta_min, "beta_min")
        self.beta_max = check_positive(beta_max, "beta_max")
        self.t_min = check_positive(t_min, "t_min")

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * self.beta(t) * x

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta(t).sqrt()

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r""":math:`(\mu_t, \varsigma_t)`: mean coefficient and standard deviation of :math:`p_t(x_t \mid x_0)`."""
        log_mean = -0.25 * t ** 2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min
        return torch.exp(log_mean), (1 - torch.exp(2 * log_mean)).sqrt()

    def prior_scale(self) -> float:
        return 1.0


class VESDE:
    r"""Variance-exploding SDE on :math:`[0, 1]` (module docstring); prior :math:`\mathcal N(0, \sigma_{\max}^2 I)`."""

    t_max = 1.0

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, t_min: float = 1e-5) -> None:
        self.sigma_min = check_positive(sigma_min, "sigma_min")
        self.sigma_max = check_positive(sigma_max, "sigma_max")
        if self.sigma_max <= self.sigma_min:
            raise ValueError(f"sigma_max: expected a value above sigma_min = {self.sigma_min}, got {sigma_max!r}.")
        self.t_min = check_positive(t_min, "t_min")

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma(t) * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.ones_like(t), self.sigma(t)

    def prior_scale(self) -> float:
        return self.sigma_max


class DiscreteVPSDE:
    r"""The VP SDE of a DDPM schedule, time :math:`\tau \in [0, T]` in steps (module docstring); prior
    :math:`\mathcal N(0, I)`."""

    t_min = 0.0

    def __init__(self, schedule: NoiseSchedule) -> None:
        self.schedule = schedule
        self.t_max = float(schedule.num_time_steps)

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.schedule.continuous_beta(t)

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * self.beta(t).to(x.dtype) * x

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta(t).sqrt()

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.exp(self.schedule.continuous_log_alpha_bar(t))
        return a.sqrt(), (1 - a).sqrt()

    def prior_scale(self) -> float:
        return 1.0


@torch.no_grad()
def reverse_sde_sample(score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], sde: VPSDE | VESDE | DiscreteVPSDE,
                       num_samples: int, features: int, *, num_time_steps: int = 1000, corrector_steps: int = 0,
                       snr: float = 0.16, denoise: bool = True, x_start: torch.Tensor | None = None,
                       dtype: torch.dtype = torch.float32, return_trajectory: bool = False, seed: int | None = None
                       ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Sample by integrating the reverse-time SDE with Euler–Maruyama (+ Langevin correctors).

    Parameters
    ----------
    score
        :math:`s_\theta(x, t)` with ``t`` a 0-dim tensor, returning (n, d) (e.g. :meth:`DDPM.score
        <pgm_ppl.diffusion.DDPM.score>`, :meth:`NCSN.sde_score <pgm_ppl.diffusion.NCSN.sde_score>`).
    sde
        The forward process (:class:`VPSDE`, :class:`VESDE`, :class:`DiscreteVPSDE`).
    num_samples, features
        Output shape.
    num_time_steps
        Predictor steps :math:`N` on an even grid from :math:`t_{\max}` to :math:`t_{\min}`.
    corrector_steps, snr
        Langevin corrector steps per time (0: plain Euler–Maruyama) and their signal-to-noise ratio :math:`r`.
    denoise
        Return the last step's mean (no noise added at the end), as Song et al. do.
    x_start
        Starting points (default: draws from the prior).
    dtype, return_trajectory, seed
        Floating type of the draws; also return the states at each time, shape (N + 1, n, d); seed (None: torch's
        current generator).

    Returns
    -------
    torch.Tensor
        Shape (n, d) (and the trajectory).

    Raises
    ------
    ValueError, TypeError
        For non-positive sizes or ``snr``, a ``score`` that is not callable, an ``sde`` that is not a
        :class:`VPSDE`, :class:`VESDE` or :class:`DiscreteVPSDE`, or an ``x_start`` not of shape ``(num_samples,
        features)``.
    """
    if not callable(score):
        raise TypeError(f"score: expected a callable score(x, t), got {type(score).__name__}.")
    if not isinstance(sde, (VPSDE, VESDE, DiscreteVPSDE)):
        raise TypeError(f"sde: expected a VPSDE, VESDE or DiscreteVPSDE, got {type(sde).__name__} (a trained DDPM's "
                        "reverse SDE is model.sde, with score=model.score).")
    num_samples = check_int(num_samples, "num_samples")
    features = check_int(features, "features")
    if x_start is not None and (not isinstance(x_start, torch.Tensor) or tuple(x_start.shape) != (num_samples,
                                                                                                 features)):
        raise ValueError(f"x_start: expected a tensor of shape ({num_samples}, {features}), got "
                         f"{tuple(x_start.shape) if isinstance(x_start, torch.Tensor) else type(x_start).__name__}.")
    N = check_int(num_time_steps, "num_time_steps")
    corrector_steps = check_int(corrector_steps, "corrector_steps", minimum=0)
    snr = check_positive(snr, "snr")
    with maybe_seeded(seed):
        x = (torch.randn(num_samples, features, dtype=dtype) * sde.prior_scale()) if x_start is None else x_start
        times = torch.linspace(sde.t_max, sde.t_min, N + 1, dtype=torch.float64)
        path = [x] if return_trajectory else None
        for i in range(N):
            t, dt = times[i], float(times[i] - times[i + 1])
            for _ in range(corrector_steps):
                grad = score(x, t.to(x.dtype))
                z = torch.randn_like(x)
                step = 2 * (snr * z.norm(dim=-1).mean() / grad.norm(dim=-1).mean()) ** 2
                x = x + step * grad + (2 * step).sqrt() * z
            g = sde.diffusion(t).to(x.dtype)
            mean = x - (sde.drift(x, t.to(x.dtype)) - g ** 2 * score(x, t.to(x.dtype))) * dt
            last = i == N - 1
            x = mean if (last and denoise) else mean + g * math.sqrt(dt) * torch.randn_like(x)
            if path is not None:
                path.append(x)
    return (x, torch.stack(path)) if path is not None else x
