r"""Scores and Langevin samplers (course chapter 9, Def. 9.1-9.2, course-map rows 9.1-9.2).

The score of a density is :math:`s(x) = \nabla_x \log p(x)` (9.1); it ignores the normalising constant
(Remark 9.2), so an unnormalised log-density is enough: :func:`score_of` differentiates any torch log-density
(or a Pyro/torch distribution's ``log_prob``) by autograd.

The **unadjusted Langevin algorithm** (ULA, Def. 9.2)

.. math:: x_{k+1} = x_k + \tfrac{\epsilon}{2}\, s(x_k) + \sqrt{\epsilon}\,\eta_k, \qquad \eta_k \sim \mathcal N(0, I)

is only approximately stationary for :math:`p` (Remark 9.3). On :math:`\mathcal N(m, s^2)` it is the AR(1) chain
:math:`x_{k+1} - m = (1 - \tfrac{\epsilon}{2s^2})(x_k - m) + \sqrt\epsilon\,\eta_k`, whose stationary law is
:math:`\mathcal N\bigl(m, \epsilon / (1 - (1-\tfrac{\epsilon}{2s^2})^2)\bigr) = \mathcal N\bigl(m,
\tfrac{s^2}{1 - \epsilon/(4s^2)}\bigr)`: the exact discretisation bias (:func:`ula_stationary_variance`). The
**Metropolis-adjusted** version (MALA; Roberts & Tweedie 1996) accepts the ULA proposal with probability
:math:`\min\{1, \frac{p(x')q(x \mid x')}{p(x)q(x' \mid x)}\}`, :math:`q(x' \mid x) = \mathcal N(x + \tfrac\epsilon2
s(x), \epsilon I)`, which makes :math:`p` exactly stationary; it needs :math:`\log p` up to a constant, not only
the score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int, check_positive

__all__ = ["LangevinResult", "mala", "score_of", "ula", "ula_stationary_variance"]


def score_of(log_density: Callable[[torch.Tensor], torch.Tensor] | Any) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""The score :math:`x \mapsto \nabla_x \log p(x)` of a log-density, by autograd (9.1).

    Parameters
    ----------
    log_density
        A callable ``x (n, d) -> (n,)`` (normalised or not: the constant drops out, Remark 9.2), or an object with
        ``log_prob`` (a torch or Pyro distribution, a trained flow, a :class:`~pgm_ppl.diffusion.DDPM`).

    Returns
    -------
    callable
        ``score(x)`` of shape (n, d), detached.

    Raises
    ------
    TypeError
        If ``log_density`` is neither callable nor has ``log_prob``.

    Examples
    --------
    >>> import torch
    >>> s = score_of(torch.distributions.Normal(1.0, 2.0))
    >>> float(s(torch.tensor([3.0])))  # -(x - m) / s^2
    -0.5
    """
    function = getattr(log_density, "log_prob", None) or log_density
    if not callable(function):
        raise TypeError(f"log_density: expected a callable or an object with log_prob, got "
                        f"{type(log_density).__name__}.")

    def score(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(function(x).sum(), x)
        return grad

    return score


def ula_stationary_variance(scale: float, step_size: float) -> float:
    r"""Stationary variance :math:`s^2 / (1 - \epsilon/(4 s^2))` of ULA on :math:`\mathcal N(m, s^2)` (module
    docstring); the chain is unstable for :math:`\epsilon \ge 4 s^2`.

    Raises
    ------
    ValueError
        For non-positive arguments or :math:`\epsilon \ge 4 s^2`.
    """
    s2 = check_positive(scale, "scale") ** 2
    eps = check_positive(step_size, "step_size")
    if eps >= 4 * s2:
        raise ValueError(f"step_size: expected a value below 4 scale^2 = {4 * s2:g} (else ULA diverges), got {eps!r}.")
    return s2 / (1 - eps / (4 * s2))


@dataclass(frozen=True)
class LangevinResult:
    """Draws of a Langevin chain: ``samples`` (the final states, (n, d)), ``trajectory`` (the kept states,
    (num_kept, n, d), or None) and ``acceptance_rate`` (MALA; 1.0 for ULA)."""

    samples: torch.Tensor
    trajectory: torch.Tensor | None
    acceptance_rate: float


def _check_chain(x0: torch.Tensor, step_size: float, num_steps: int) -> tuple[torch.Tensor, float, int]:
    if not isinstance(x0, torch.Tensor) or x0.ndim != 2:
        raise ValueError(f"x0: expected a tensor of starting points of shape (n, d), got "
                         f"{getattr(x0, 'shape', type(x0).__name__)}.")
    return x0, check_positive(step_size, "step_size"), check_int(num_steps, "num_steps")


def ula(score: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, *, step_size: float, num_steps: int,
        thin: int | None = None, seed: int = 0) -> LangevinResult:
    r"""Unadjusted Langevin algorithm (Def. 9.2): ``num_steps`` updates of every row of ``x0`` (independent chains).

    Parameters
    ----------
    score
        :math:`s(x)`, (n, d) -> (n, d) (e.g. :func:`score_of`, or a trained score network).
    x0
        Starting points, (n, d).
    step_size
        :math:`\epsilon > 0`.
    num_steps
        Number of updates.
    thin
        Keep every ``thin``-th state in ``trajectory`` (None: keep none).
    seed
        Seeds the noise :math:`\eta_k`.

    Returns
    -------
    LangevinResult
    """
    x, eps, num_steps = _check_chain(x0, step_size, num_steps)
    kept = []
    with torch_seeded(check_int(seed, "seed", minimum=0)), torch.no_grad():
        for k in range(num_steps):
            x = x + 0.5 * eps * score(x) + eps ** 0.5 * torch.randn_like(x)
            if thin is not None and (k + 1) % thin == 0:
                kept.append(x)
    return LangevinResult(x, torch.stack(kept) if kept else None, 1.0)


def mala(log_density: Callable[[torch.Tensor], torch.Tensor] | Any, x0: torch.Tensor, *, step_size: float,
         num_steps: int, thin: int | None = None, seed: int = 0) -> LangevinResult:
    r"""Metropolis-adjusted Langevin (module docstring): the ULA proposal with an accept/reject step.

    Parameters
    ----------
    log_density
        :math:`\log p` up to a constant (callable ``x (n, d) -> (n,)`` or an object with ``log_prob``).
    x0, step_size, num_steps, thin, seed
        As :func:`ula`.

    Returns
    -------
    LangevinResult
        With the mean acceptance rate over chains and steps.
    """
    x, eps, num_steps = _check_chain(x0, step_size, num_steps)
    function = getattr(log_density, "log_prob", None) or log_density
    score = score_of(function)

    def log_q(to: torch.Tensor, frm: torch.Tensor, grad_frm: torch.Tensor) -> torch.Tensor:
        return -((to - frm - 0.5 * eps * grad_frm) ** 2).sum(-1) / (2 * eps)

    kept, accepted = [], 0.0
    with torch_seeded(check_int(seed, "seed", minimum=0)):
        log_p, grad = function(x).detach(), score(x)
        for k in range(num_steps):
            proposal = x + 0.5 * eps * grad + eps ** 0.5 * torch.randn_like(x)
            log_p_new, grad_new = function(proposal).detach(), score(proposal)
            log_ratio = log_p_new + log_q(x, proposal, grad_new) - log_p - log_q(proposal, x, grad)
            accept = torch.log(torch.rand_like(log_ratio)) < log_ratio
            x = torch.where(accept[:, None], proposal, x)
            log_p = torch.where(accept, log_p_new, log_p)
            grad = torch.where(accept[:, None], grad_new, grad)
            accepted += float(accept.to(torch.float64).mean())
            if thin is not None and (k + 1) % thin == 0:
                kept.append(x)
    return LangevinResult(x, torch.stack(kept) if kept else None, accepted / num_steps)
