r"""The DDPM forward (noising) process: noise schedules, q(x_t | x_0) and q(x_{t-1} | x_t, x_0).

Course chapter 9, rows 9.10-9.14 of the course map. Given :math:`x_0 \sim q(x_0)`, the forward process is

.. math::
    q(x_{1:T} \mid x_0) = \prod_{t=1}^T q(x_t \mid x_{t-1}), \qquad
    q(x_t \mid x_{t-1}) = \mathcal N\bigl(x_t; \sqrt{1-\beta_t}\,x_{t-1}, \beta_t I\bigr)        \quad (9.10)-(9.11)

(the notes' (9.11) writes :math:`\beta I`; the variance is :math:`\beta_t I`, Ho et al. 2020 eq. (2)). With
:math:`\alpha_t = 1 - \beta_t` and :math:`\bar\alpha_t = \prod_{s \le t} \alpha_s` (Exercise 9.7),

.. math::
    q(x_t \mid x_0) = \mathcal N\bigl(x_t; \sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I\bigr)      \quad (9.12)

and, by Bayes' rule on these Gaussians, the forward posterior

.. math::
    q(x_{t-1} \mid x_t, x_0) = \mathcal N(x_{t-1}; \tilde\mu_t, \tilde\beta_t I), \quad
    \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t} x_0
                + \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t} x_t, \quad
    \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t                           \quad (9.17)-(9.20)

with :math:`\bar\alpha_0 = 1`. Time steps are integers :math:`t \in \{1, \dots, T\}`; ``t = 0`` is the data.

The schedule also has a continuous-time view (``continuous_log_alpha_bar``): :math:`\log\bar\alpha(\tau)`
interpolated linearly between the integer steps, so the discrete marginals are exactly those of the variance-
preserving SDE with :math:`\beta(\tau) = -\tfrac{d}{d\tau}\log\bar\alpha(\tau)` (time in step units); the
probability-flow ODE and the reverse SDE samplers of a DDPM run on it.

References
----------
.. [Ho2020] J. Ho, A. Jain and P. Abbeel, "Denoising diffusion probabilistic models", NeurIPS 2020.
.. [Nichol2021] A. Nichol and P. Dhariwal, "Improved denoising diffusion probabilistic models", ICML 2021
   (the cosine schedule, and the linear schedule's scaling with T).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pgm_ppl.core.validation import check_int, check_positive

__all__ = ["NoiseSchedule", "cosine_schedule", "linear_schedule"]


class NoiseSchedule(nn.Module):
    r"""A discrete variance schedule :math:`\beta_1, \dots, \beta_T` and the Gaussians of the forward process.

    The arrays are buffers (they follow the module's ``.to(dtype)``), computed in float64 at construction.
    Every method takes integer steps ``t`` as a tensor of shape ``(n,)`` (or a Python int) with values in
    :math:`\{0, \dots, T\}` (:math:`\bar\alpha_0 = 1`) and broadcasts the per-step scalars over the trailing
    axes of ``x`` (shape ``(n, d)`` or ``(n, *event_shape)``).

    Parameters
    ----------
    betas
        :math:`\beta_t \in (0, 1)`, shape ``(T,)``.
    name
        What the schedule is called (``"linear"``, ``"cosine"``).

    Raises
    ------
    ValueError
        If ``betas`` is not 1-D or has values outside :math:`(0, 1)`.
    """

    def __init__(self, betas: torch.Tensor, name: str = "custom") -> None:
        super().__init__()
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or betas.numel() < 1 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError(f"betas: expected a 1-D array of values in (0, 1), got shape {tuple(betas.shape)} "
                             f"with range [{float(betas.min()):.3g}, {float(betas.max()):.3g}].")
        self.name = name
        alphas = 1.0 - betas
        alpha_bars = torch.cumprod(alphas, 0)
        # index 0 holds t = 0 (alpha_bar = 1); index t holds step t
        self.register_buffer("betas", torch.cat([betas.new_zeros(1), betas]))
        self.register_buffer("alphas", torch.cat([betas.new_ones(1), alphas]))
        self.register_buffer("alpha_bars", torch.cat([betas.new_ones(1), alpha_bars]))
        # log alpha_bar for the continuous view (computed in float64 here)
        self.register_buffer("log_alpha_bars", torch.log(self.alpha_bars.clone()), persistent=False)

    @property
    def num_time_steps(self) -> int:
        """:math:`T`."""
        return self.betas.numel() - 1

    def extra_repr(self) -> str:
        return f"name={self.name!r}, num_time_steps={self.num_time_steps}"

    # --- per-step scalars --------------------------------------------------------------------------------------
    def _steps(self, t: torch.Tensor | int) -> torch.Tensor:
        return torch.as_tensor(t, dtype=torch.long, device=self.betas.device)

    def gather(self, values: torch.Tensor, t: torch.Tensor | int, x: torch.Tensor) -> torch.Tensor:
        """``values[t]`` shaped to broadcast against ``x`` (one scalar per row)."""
        out = values[self._steps(t)].to(x.dtype)
        return out.reshape(out.shape + (1,) * (x.ndim - out.ndim))

    def posterior_variance(self, t: torch.Tensor | int) -> torch.Tensor:
        r""":math:`\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t` (9.20), for ``t >= 1``."""
        t = self._steps(t)
        return (1 - self.alpha_bars[t - 1]) / (1 - self.alpha_bars[t]) * self.betas[t]

    # --- the forward process -----------------------------------------------------------------------------------
    def forward_step(self, x_prev: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        r"""One forward step :math:`x_t = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\varepsilon` (9.10)."""
        return self.gather(self.alphas, t, x_prev).sqrt() * x_prev + self.gather(self.betas, t, x_prev).sqrt() * noise

    def marginal(self, x0: torch.Tensor, t: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean :math:`\sqrt{\bar\alpha_t} x_0` and standard deviation :math:`\sqrt{1-\bar\alpha_t}` of
        :math:`q(x_t \mid x_0)` (9.12); the standard deviation has one entry per row, broadcastable to ``x0``."""
        alpha_bar = self.gather(self.alpha_bars, t, x0)
        return alpha_bar.sqrt() * x0, (1 - alpha_bar).sqrt()

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        r""":math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon` (9.12), given the noise."""
        mean, std = self.marginal(x0, t)
        return mean + std * noise

    def posterior(self, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor | int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean :math:`\tilde\mu_t(x_t, x_0)` and variance :math:`\tilde\beta_t` of
        :math:`q(x_{t-1} \mid x_t, x_0)` (9.17)-(9.20), for ``t >= 1`` (the variance broadcastable to ``x_t``)."""
        alpha_bar = self.gather(self.alpha_bars, t, x_t)
        alpha_bar_prev = self.gather(self.alpha_bars, self._steps(t) - 1, x_t)
        beta = self.gather(self.betas, t, x_t)
        alpha = self.gather(self.alphas, t, x_t)
        mean = (alpha_bar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - alpha_bar_prev) * x_t) / (1 - alpha_bar)
        return mean, (1 - alpha_bar_prev) / (1 - alpha_bar) * beta

    # --- the continuous-time view ------------------------------------------------------------------------------
    def continuous_log_alpha_bar(self, tau: torch.Tensor) -> torch.Tensor:
        r""":math:`\log\bar\alpha(\tau)` for real :math:`\tau \in [0, T]`, linear between the integer steps."""
        tau = torch.as_tensor(tau, dtype=torch.float64, device=self.betas.device).clamp(0, self.num_time_steps)
        lower = tau.floor().long().clamp(max=self.num_time_steps - 1)
        w = tau - lower
        table = self.log_alpha_bars.to(torch.float64)
        return table[lower] * (1 - w) + table[lower + 1] * w

    def continuous_beta(self, tau: torch.Tensor) -> torch.Tensor:
        r""":math:`\beta(\tau) = -\tfrac{d}{d\tau}\log\bar\alpha(\tau) = -\log(1-\beta_t)` on
        :math:`(t-1, t]`: the rate of the VP SDE whose marginals at integer :math:`\tau` are (9.12)."""
        tau = torch.as_tensor(tau, dtype=torch.float64, device=self.betas.device).clamp(0, self.num_time_steps)
        step = tau.ceil().long().clamp(1, self.num_time_steps)
        return -torch.log(self.alphas.to(torch.float64)[step])

    def time_of_log_alpha_bar(self, log_alpha_bar: torch.Tensor) -> torch.Tensor:
        r"""The inverse of :meth:`continuous_log_alpha_bar` (piecewise linear): :math:`\tau` with
        :math:`\log\bar\alpha(\tau)` = ``log_alpha_bar`` (clamped to :math:`[0, T]`)."""
        table = -self.log_alpha_bars.to(torch.float64)  # increasing in t
        target = (-torch.as_tensor(log_alpha_bar, dtype=torch.float64, device=table.device)).clamp(0, float(table[-1]))
        upper = torch.searchsorted(table, target.reshape(-1)).reshape(target.shape).clamp(1, self.num_time_steps)
        lo, hi = table[upper - 1], table[upper]
        return (upper - 1) + (target - lo) / (hi - lo)


def _check_steps(num_time_steps: int) -> int:
    return check_int(num_time_steps, "num_time_steps", minimum=1)


def linear_schedule(num_time_steps: int = 1000, *, beta_start: float | None = None,
                    beta_end: float | None = None) -> NoiseSchedule:
    r"""Ho et al.'s linear schedule: :math:`\beta_t` evenly spaced from ``beta_start`` to ``beta_end``.

    Defaults are [Ho2020]_'s :math:`10^{-4}` and :math:`0.02` for :math:`T = 1000`, scaled by :math:`1000/T` for
    other :math:`T` ([Nichol2021]_), so :math:`\bar\alpha_T \approx 4 \cdot 10^{-5}` whatever :math:`T`.

    Raises
    ------
    ValueError, TypeError
        If ``num_time_steps`` < 1 or the betas leave :math:`(0, 1)`.
    """
    num_time_steps = _check_steps(num_time_steps)
    scale = 1000.0 / num_time_steps
    start = 1e-4 * scale if beta_start is None else check_positive(beta_start, "beta_start")
    end = min(0.02 * scale, 0.999) if beta_end is None else check_positive(beta_end, "beta_end")
    return NoiseSchedule(torch.linspace(start, end, num_time_steps, dtype=torch.float64), "linear")


def cosine_schedule(num_time_steps: int = 1000, *, offset: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    r"""Nichol & Dhariwal's cosine schedule, defined through :math:`\bar\alpha_t`:

    .. math::
        \bar\alpha_t = f(t)/f(0), \quad f(t) = \cos^2\Bigl(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\Bigr), \quad
        \beta_t = \min\bigl(1 - \bar\alpha_t/\bar\alpha_{t-1},\ \beta_{\max}\bigr),

    with :math:`s` = ``offset`` and :math:`\beta_{\max}` = ``max_beta`` ([Nichol2021]_, eq. (17)).

    Raises
    ------
    ValueError, TypeError
        If ``num_time_steps`` < 1, ``offset`` <= 0 or ``max_beta`` outside (0, 1).
    """
    num_time_steps = _check_steps(num_time_steps)
    offset = check_positive(offset, "offset")
    max_beta = check_positive(max_beta, "max_beta")
    if max_beta >= 1:
        raise ValueError(f"max_beta: expected a number in (0, 1), got {max_beta!r}.")
    steps = torch.arange(num_time_steps + 1, dtype=torch.float64) / num_time_steps
    f = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    betas = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(min=1e-8, max=max_beta)
    return NoiseSchedule(betas, "cosine")
