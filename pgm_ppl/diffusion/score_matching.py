r"""Score matching: explicit, implicit (Hyvärinen), sliced and denoising losses (course rows 9.3-9.6).

These are **regression losses** (squared errors between a network :math:`s_\theta` and a score), run by
:func:`pgm_ppl.training.train` as custom losses; their values are not bounds on :math:`-\log p(x)`.

* explicit (9.3): :math:`\tfrac12\mathbb E_p\|s_\theta(x) - \nabla\log p(x)\|^2`, when the true score is known;
* implicit (9.4), Hyvärinen (2005, Thm 1): :math:`\mathbb E_p[\operatorname{tr}\nabla_x s_\theta(x) +
  \tfrac12\|s_\theta(x)\|^2]`, equal to (9.3) up to a constant; the trace exactly (:math:`D` backward passes,
  the :math:`O(D^2)` cost the notes mention) or by Hutchinson's estimator :math:`v^\top(\nabla s_\theta)v`
  (one pass, :math:`\mathbb E[vv^\top] = I`);
* sliced (Song, Garg, Shi & Ermon 2019): :math:`\mathbb E_{p, v}[v^\top\nabla_x s_\theta(x)\,v +
  \tfrac12(v^\top s_\theta(x))^2]` with Gaussian projections :math:`v`, an unbiased estimate of (9.4);
* denoising (9.6), Vincent (2011): :math:`\tfrac12\mathbb E\|s_\theta(\tilde x) + (\tilde x - x)/\sigma^2\|^2`,
  :math:`\tilde x = x + \sigma z`: its minimiser is the score of the noised density :math:`q_\sigma` (9.5)
  (Exercise 9.5).

The divergence is :func:`pgm_ppl.flows.continuous.divergence` (the same one a continuous flow integrates).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from pgm_ppl.core.validation import check_choice, check_int, check_positive
from pgm_ppl.flows.continuous import divergence

__all__ = ["denoising_score_matching", "explicit_score_matching", "implicit_score_matching",
           "sliced_score_matching"]

Score = Callable[[torch.Tensor], torch.Tensor]


def explicit_score_matching(score: Score, x: torch.Tensor, true_score: torch.Tensor) -> torch.Tensor:
    r""":math:`\tfrac12\,\overline{\|s_\theta(x_n) - \nabla\log p(x_n)\|^2}` over the rows (9.3); ``true_score``
    (n, d) is :math:`\nabla\log p` at ``x`` (n, d). A scalar (batch mean)."""
    return 0.5 * ((score(x) - true_score) ** 2).sum(-1).mean()


def implicit_score_matching(score: Score, x: torch.Tensor, *, trace: str = "exact", num_probes: int = 1,
                            probe: str = "rademacher") -> torch.Tensor:
    r"""Hyvärinen's loss :math:`\overline{\operatorname{tr}\nabla_x s_\theta(x_n) + \tfrac12\|s_\theta(x_n)\|^2}` (9.4).

    Parameters
    ----------
    score
        :math:`s_\theta`, (n, d) -> (n, d), row-wise.
    x
        Data rows (n, d).
    trace
        ``"exact"`` (d backward passes) or ``"hutchinson"`` (``num_probes`` probes per row, ``probe``
        ``"rademacher"`` or ``"gaussian"``, from torch's current generator; unbiased).

    Returns
    -------
    torch.Tensor
        The batch mean (differentiable in the network's parameters).

    Raises
    ------
    ValueError
        For an unknown ``trace`` or ``probe``.
    """
    trace = check_choice(trace, "trace", ("exact", "hutchinson"))
    probe = check_choice(probe, "probe", ("rademacher", "gaussian"))
    num_probes = check_int(num_probes, "num_probes")
    x = x.detach().requires_grad_(True)
    s = score(x)
    if trace == "exact":
        tr = divergence(s, x, create_graph=True)
    else:
        tr = 0.0
        for _ in range(num_probes):
            v = torch.randn_like(x) if probe == "gaussian" else torch.randint_like(x, 0, 2) * 2 - 1
            tr = tr + divergence(s, x, v, create_graph=True) / num_probes
    return (tr + 0.5 * (s ** 2).sum(-1)).mean()


def sliced_score_matching(score: Score, x: torch.Tensor, *, num_projections: int = 1) -> torch.Tensor:
    r"""Sliced score matching :math:`\overline{v^\top\nabla_x s_\theta(x)\,v + \tfrac12(v^\top s_\theta(x))^2}` with
    ``num_projections`` Gaussian directions :math:`v` per row (Song et al. 2019, eq. (7)); a batch mean."""
    num_projections = check_int(num_projections, "num_projections")
    x = x.detach().requires_grad_(True)
    s = score(x)
    total = 0.0
    for _ in range(num_projections):
        v = torch.randn_like(x)
        total = total + divergence(s, x, v, create_graph=True) + 0.5 * (s * v).sum(-1) ** 2
    return (total / num_projections).mean()


def denoising_score_matching(score: Callable[..., torch.Tensor], x: torch.Tensor, sigma: float | torch.Tensor,
                             *, conditional: bool = False) -> torch.Tensor:
    r"""Denoising score matching :math:`\tfrac12\overline{\|s_\theta(\tilde x) + (\tilde x - x)/\sigma^2\|^2}`
    (9.6), :math:`\tilde x = x + \sigma z` with :math:`z` from torch's current generator.

    Parameters
    ----------
    score
        :math:`s_\theta(\tilde x)` or, with ``conditional=True``, :math:`s_\theta(\tilde x, \sigma)` (NCSN).
    x
        Clean rows (n, d).
    sigma
        :math:`\sigma > 0`: a number or one per row, shape (n, 1).

    Returns
    -------
    torch.Tensor
        The batch mean.
    """
    if not isinstance(sigma, torch.Tensor):
        sigma = torch.tensor(check_positive(sigma, "sigma"), dtype=x.dtype, device=x.device)
    noise = torch.randn_like(x)
    x_tilde = x + sigma * noise
    target = -noise / sigma  # -(x_tilde - x) / sigma^2, Exercise 9.5
    prediction = score(x_tilde, sigma) if conditional else score(x_tilde)
    return 0.5 * ((prediction - target) ** 2).sum(-1).mean()
