r"""Samplers of a trained DDPM: ancestral sampling and DDIM (with :math:`\eta`, timestep sub-sequences).

Course-map rows 9.17-9.18. Every sampler takes a :class:`~pgm_ppl.diffusion.DDPM` (any module with ``schedule``,
``epsilon``, ``reverse_mean``, ``reverse_variance``) and draws from torch's current generator, or from
``seed`` when one is given. The reverse SDE and the probability-flow ODE are in :mod:`pgm_ppl.diffusion.sde` and
:mod:`pgm_ppl.diffusion.probability_flow`.

**Ancestral** (implied by (9.13)-(9.14)): :math:`x_T \sim \mathcal N(0, I)`, then
:math:`x_{t-1} = \mu_\theta(x_t, t) + \sigma_t z` for :math:`t = T, \dots, 2` and :math:`x_0 = \mu_\theta(x_1, 1)`
(the decoder's mean, as Ho et al. display samples): :math:`T` network evaluations.

**DDIM** (Song, Meng & Ermon 2021a, eq. (12)): on a decreasing sub-sequence :math:`\tau_S > \dots > \tau_1` of
:math:`\{1, \dots, T\}` and :math:`\tau_0 = 0`, from :math:`t = \tau_i` to :math:`s = \tau_{i-1}`,

.. math::
    \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}}, \quad
    x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s-\sigma^2}\,\varepsilon_\theta(x_t, t) + \sigma z,
    \quad \sigma = \eta\sqrt{\frac{1-\bar\alpha_s}{1-\bar\alpha_t}}\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_s}},

:math:`S` network evaluations. :math:`\eta = 0` is deterministic (the notes' DDIM, an Euler discretisation of the
probability-flow ODE in :math:`(\bar\sigma, \bar x)`); :math:`\eta = 1` with :math:`S = T` is ancestral
sampling with :math:`\sigma_t^2 = \tilde\beta_t`. :math:`\hat x_0` is **not clipped** unless ``clip`` is given:
clipping to :math:`[-1, 1]` suits images scaled there and silently distorts other data (diffusers'
``clip_sample=True`` default).

Timestep spacings (``spacing``; the notes leave the sub-sequence open): ``"linspace"`` (evenly spaced from
:math:`T` down to 1, rounded: both ends included), ``"trailing"`` (:math:`T, T - T/S, \dots`, rounded: starts
at :math:`T`), ``"leading"`` (:math:`1 + k\lfloor T/S \rfloor`: never reaches :math:`T`, so the first step treats
:math:`\mathcal N(0, I)` noise as :math:`x_{\tau_S}` with :math:`\bar\alpha_{\tau_S}` well above 0 — offered to show
that flaw, diffusers issues #12633, #9261) and ``"quadratic"`` (DDIM's :math:`\lfloor c\,i^2 \rfloor`, dense near
the data).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from pgm_ppl.core.validation import check_choice, check_int
from pgm_ppl.diffusion._util import maybe_seeded
from pgm_ppl.flows._rows import as_rows

__all__ = ["SPACINGS", "ancestral_sample", "ddim_sample", "ddim_timesteps"]

SPACINGS = ("linspace", "trailing", "leading", "quadratic")


def ddim_timesteps(num_time_steps: int, total_steps: int, spacing: str = "linspace") -> torch.Tensor:
    r"""The decreasing sub-sequence :math:`\tau_S > \dots > \tau_1` of :math:`\{1, \dots, T\}` (module docstring).

    Parameters
    ----------
    num_time_steps
        :math:`S`, between 1 and ``total_steps``.
    total_steps
        :math:`T`.
    spacing
        One of :data:`SPACINGS`.

    Returns
    -------
    torch.Tensor
        Long tensor of shape ``(S,)``, strictly decreasing, values in :math:`\{1, \dots, T\}`.

    Raises
    ------
    ValueError
        For :math:`S` outside :math:`[1, T]` or an unknown spacing.

    Examples
    --------
    >>> ddim_timesteps(4, 1000).tolist()
    [1000, 667, 334, 1]
    >>> ddim_timesteps(4, 1000, "trailing").tolist()
    [1000, 750, 500, 250]
    """
    T = check_int(total_steps, "total_steps")
    S = check_int(num_time_steps, "num_time_steps", maximum=T)
    spacing = check_choice(spacing, "spacing", SPACINGS)
    if spacing == "linspace":
        steps = torch.linspace(T, 1, S, dtype=torch.float64).round().long() if S > 1 else torch.tensor([T])
    elif spacing == "trailing":
        steps = torch.round(torch.arange(T, 0, -T / S, dtype=torch.float64)).long()[:S]
    elif spacing == "leading":
        steps = (torch.arange(S) * (T // S) + 1).flip(0)
    else:
        c = (T - 1) / max(S - 1, 1) ** 2
        steps = (1 + torch.floor(c * torch.arange(S, dtype=torch.float64) ** 2)).long().flip(0)
    steps = torch.unique(steps.clamp(1, T)).flip(0)  # strictly decreasing
    return steps


def _start(denoiser: nn.Module, num_samples: int, x_T: Any, y: torch.Tensor | None = None,
           guidance_weight: float | None = None) -> torch.Tensor:
    """The chain's start: ``x_T`` as given (checked: ``(num_samples, d)``, cast to the network's dtype) or
    :math:`\\mathcal N(0, I)` draws. Labels or a guidance weight given to an unconditional DDPM are refused."""
    if getattr(denoiser, "num_classes", 0) is None:
        if y is not None:
            raise ValueError("y: expected None for an unconditional model (num_classes=None), got labels; train on "
                             "(X, y) with num_classes to condition.")
        if guidance_weight is not None and float(guidance_weight) != 0.0:
            raise ValueError(f"guidance_weight: expected None or 0 for an unconditional model (num_classes=None), "
                             f"got {guidance_weight!r}.")
    features = denoiser.network.features
    reference = denoiser.schedule.betas
    tensors = itertools.chain(denoiser.network.parameters(), denoiser.network.buffers())
    dtype = next((p.dtype for p in tensors if p.is_floating_point()), None)
    if x_T is not None:  # in the network's dtype; a network without tensors of its own takes x_T's float dtype
        if dtype is None and isinstance(x_T, torch.Tensor) and x_T.is_floating_point():
            dtype = x_T.dtype
        like = torch.zeros((), dtype=dtype or torch.get_default_dtype(), device=reference.device)
        x_T = as_rows(x_T, features, like, "x_T")
        if x_T.shape[0] != num_samples:
            raise ValueError(f"x_T: expected num_samples = {num_samples} rows, got {x_T.shape[0]}.")
        return x_T
    return torch.randn(num_samples, features, dtype=dtype or torch.get_default_dtype(), device=reference.device)


@torch.no_grad()
def ancestral_sample(denoiser: nn.Module, num_samples: int, *, y: torch.Tensor | None = None,
                     guidance_weight: float | None = None, x_T: torch.Tensor | None = None,
                     return_trajectory: bool = False, seed: int | None = None
                     ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Ancestral sampling of the reverse process (module docstring): :math:`T` network evaluations.

    Parameters
    ----------
    denoiser
        A :class:`~pgm_ppl.diffusion.DDPM` (its ``variance`` gives :math:`\sigma_t^2`).
    num_samples
        Rows to draw.
    y, guidance_weight
        Labels (``num_samples``,) and classifier-free guidance weight of a conditional model.
    x_T
        Starting noise (``num_samples``, d); default :math:`\mathcal N(0, I)` draws.
    return_trajectory
        Also return the whole chain :math:`x_T, \dots, x_0`, shape ``(T + 1, n, d)``.
    seed
        Draw from ``torch_seeded(seed)``; None uses torch's current generator.

    Returns
    -------
    torch.Tensor
        :math:`x_0`, shape (n, d) (and the trajectory).
    """
    num_samples = check_int(num_samples, "num_samples")
    with maybe_seeded(seed):
        x = _start(denoiser, num_samples, x_T, y, guidance_weight)
        path = [x] if return_trajectory else None
        for t in range(denoiser.num_time_steps, 0, -1):
            mean = denoiser.reverse_mean(x, t, y, guidance_weight)
            if t > 1:
                x = mean + denoiser.reverse_variance(t).sqrt().to(x.dtype) * torch.randn_like(x)
            else:
                x = mean
            if path is not None:
                path.append(x)
    return (x, torch.stack(path)) if path is not None else x


@torch.no_grad()
def ddim_sample(denoiser: nn.Module, num_samples: int, *, num_time_steps: int = 50, eta: float = 0.0,
                spacing: str = "linspace", clip: tuple[float, float] | None = None, y: torch.Tensor | None = None,
                guidance_weight: float | None = None, x_T: torch.Tensor | None = None,
                return_trajectory: bool = False, seed: int | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""DDIM sampling on ``num_time_steps`` steps (module docstring): ``num_time_steps`` network evaluations.

    Parameters
    ----------
    denoiser
        A :class:`~pgm_ppl.diffusion.DDPM`.
    num_samples
        Rows to draw.
    num_time_steps, spacing
        :math:`S` and the sub-sequence (:func:`ddim_timesteps`).
    eta
        :math:`\eta \ge 0` (0: deterministic).
    clip
        None (default: no clipping), or ``(low, high)`` to clip :math:`\hat x_0` (images scaled to [-1, 1]).
    y, guidance_weight, x_T, return_trajectory, seed
        As :func:`ancestral_sample`; the trajectory has shape ``(S + 1, n, d)``.

    Returns
    -------
    torch.Tensor
        Shape (n, d) (and the trajectory).

    Raises
    ------
    ValueError
        For a negative ``eta``, a bad ``spacing`` or :math:`S` outside :math:`[1, T]`.
    """
    num_samples = check_int(num_samples, "num_samples")
    if not float(eta) >= 0.0:
        raise ValueError(f"eta: expected a number >= 0, got {eta!r}.")
    if clip is not None and not (len(clip) == 2 and float(clip[0]) < float(clip[1])):
        raise ValueError(f"clip: expected None or (low, high) with low < high, got {clip!r}.")
    steps = ddim_timesteps(num_time_steps, denoiser.num_time_steps, spacing).tolist() + [0]
    alpha_bars = denoiser.schedule.alpha_bars
    with maybe_seeded(seed):
        x = _start(denoiser, num_samples, x_T, y, guidance_weight)
        path = [x] if return_trajectory else None
        for t, s in zip(steps[:-1], steps[1:]):
            a_t = alpha_bars[t].to(x.dtype)
            a_s = alpha_bars[s].to(x.dtype)
            eps = denoiser.epsilon(x, torch.full((num_samples,), float(t), dtype=x.dtype, device=x.device), y,
                                   guidance_weight)
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            if clip is not None:
                x0 = x0.clamp(float(clip[0]), float(clip[1]))
                eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
            sigma = float(eta) * ((1 - a_s) / (1 - a_t) * (1 - a_t / a_s)).clamp(min=0).sqrt()
            x = a_s.sqrt() * x0 + (1 - a_s - sigma ** 2).clamp(min=0).sqrt() * eps
            if float(eta) > 0 and s > 0:
                x = x + sigma * torch.randn_like(x)
            if path is not None:
                path.append(x)
    return (x, torch.stack(path)) if path is not None else x
