"""ELBO estimates for any Pyro model and guide, the evidence gap, and the variance of the score-function
and reparameterised ELBO gradients (course §3.4, eqs. (3.7)-(3.9), (3.14)).

Everything runs on Pyro (PyTorch). Monte Carlo particles are drawn in one vectorised pass: the model and
guide run inside an extra outermost plate of ``num_particles``, so every site gets a particle axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pyro
import pyro.poutine as poutine
import torch
from pyro.poutine.messenger import Messenger

from pgm_ppl.backend.seeding import seeded


class ELBOEstimate(NamedTuple):
    """Monte Carlo ELBO :math:`\\frac1S\\sum_s[\\log p(x, z_s) - \\log q(z_s)]`, its standard error and
    the per-particle values."""

    value: float
    std_error: float
    particles: np.ndarray


def _max_plate_nesting(model: Callable, guide: Callable, args: tuple, kwargs: dict) -> int:
    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    depth = [len(site["cond_indep_stack"]) for tr in (guide_trace, model_trace) for site in tr.nodes.values()
             if site["type"] == "sample"]
    return max(depth, default=0)


def _log_weights(model, guide, args, kwargs, num_particles: int) -> torch.Tensor:
    """:math:`\\log p(x, z_s) - \\log q(z_s)` for ``num_particles`` draws :math:`z_s \\sim q`, shape (S,),
    with subsampling scales applied."""
    dim = -_max_plate_nesting(model, guide, args, kwargs) - 1
    particles = pyro.plate("_elbo_particles", num_particles, dim=dim)
    guide_trace = poutine.trace(particles(guide)).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(particles(model), trace=guide_trace)).get_trace(*args, **kwargs)
    total = torch.zeros(num_particles, dtype=torch.float64)
    for sign, trace in ((1.0, model_trace), (-1.0, guide_trace)):
        for site in trace.nodes.values():
            if site["type"] != "sample":
                continue
            log_prob = site["fn"].log_prob(site["value"]) * site["scale"]
            if log_prob.dim() < -dim:  # pad to the particle axis
                log_prob = log_prob.reshape((1,) * (-dim - log_prob.dim()) + log_prob.shape)
            log_prob = log_prob.movedim(log_prob.dim() + dim, 0)
            total = total + sign * log_prob.reshape(log_prob.shape[0], -1).sum(1).double()
    return total


def elbo_estimate(model: Callable, guide: Callable, *args: Any, num_particles: int = 1000, seed: int = 0,
                  **kwargs: Any) -> ELBOEstimate:
    """Monte Carlo estimate of the ELBO, course eq. (3.8):

    .. math::
        \\mathcal L(q) = \\mathbb E_{q(z)}[\\log p(x, z) - \\log q(z)] \\le \\log p(x),

    from ``num_particles`` draws of the guide, with its standard error :math:`\\hat\\sigma/\\sqrt S`.
    ``model`` and ``guide`` are Pyro functions of ``*args, **kwargs``; their plates must use
    negative ``dim``s (the default).
    """
    if not isinstance(num_particles, int) or num_particles < 2:
        raise ValueError(f"num_particles must be an integer >= 2, got {num_particles!r}.")
    with torch.no_grad(), seeded(seed):
        weights = _log_weights(model, guide, args, kwargs, num_particles).numpy()
    return ELBOEstimate(float(weights.mean()), float(weights.std(ddof=1) / math.sqrt(num_particles)), weights)


class ConjugateNormalMean(NamedTuple):
    """Posterior :math:`\\mathcal N(m_N, v_N)` of a normal mean and the exact log evidence."""

    mean: float
    var: float
    log_evidence: float


def conjugate_normal_mean(x: np.ndarray, *, prior_mean: float = 0.0, prior_scale: float = 1.0,
                          noise_scale: float = 1.0) -> ConjugateNormalMean:
    """Exact posterior and evidence of :math:`\\mu \\sim \\mathcal N(m_0, s_0^2)`,
    :math:`x_n \\mid \\mu \\sim \\mathcal N(\\mu, \\sigma^2)`:

    .. math::
        v_N = (s_0^{-2} + N\\sigma^{-2})^{-1}, \\quad m_N = v_N(m_0 s_0^{-2} + \\textstyle\\sum_n x_n \\sigma^{-2}),
        \\quad x \\sim \\mathcal N(m_0 1, \\sigma^2 I + s_0^2 11^\\top).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    n, s2, t2 = len(x), noise_scale**2, prior_scale**2
    var = 1.0 / (1.0 / t2 + n / s2)
    mean = var * (prior_mean / t2 + x.sum() / s2)
    centred = x - prior_mean
    # Sherman-Morrison for (s2 I + t2 11^T)^{-1} and the matrix determinant lemma for its determinant
    quad = (centred @ centred - t2 * centred.sum() ** 2 / (s2 + n * t2)) / s2
    log_det = (n - 1) * np.log(s2) + np.log(s2 + n * t2)
    return ConjugateNormalMean(float(mean), float(var), float(-0.5 * (quad + log_det + n * np.log(2 * np.pi))))


class _ScoreFunction(Messenger):
    """Mark the guide's sample sites as not reparameterisable, so gradients flow only through log q."""

    def _pyro_sample(self, msg):
        if not msg["is_observed"]:
            msg["fn"] = msg["fn"].has_rsample_(False)


def score_function_guide(guide: Callable) -> Callable:
    """The same guide with its draws detached, so Pyro's ELBOs (``Trace_ELBO``, ``TraceGraph_ELBO``) and
    :func:`pgm_ppl.fit` optimise it by the score-function (black-box) gradient, course eq. (3.14)."""

    def wrapped(*args, **kwargs):
        with _ScoreFunction():
            return guide(*args, **kwargs)

    return wrapped


class GradientStats(NamedTuple):
    """Mean and variance over independent single-sample estimates of :math:`\\nabla_\\lambda\\mathcal L`,
    per guide parameter, and the number of estimates."""

    mean: dict[str, np.ndarray]
    variance: dict[str, np.ndarray]
    num_estimates: int


def gradient_variance(model: Callable, guide: Callable, *args: Any, estimator: str = "reparam",
                      num_estimates: int = 500, baseline_decay: float = 0.9, seed: int = 0,
                      **kwargs: Any) -> GradientStats:
    """Spread of one-sample ELBO gradient estimates for the guide's parameters :math:`\\lambda`.

    ``estimator="reparam"``:
    :math:`\\nabla_\\lambda[\\log p(x, z_\\lambda(\\epsilon)) - \\log q_\\lambda(z_\\lambda(\\epsilon))]`
    with :math:`z = z_\\lambda(\\epsilon)` a differentiable transform of noise.
    ``estimator="score"``: course eq. (3.14) with a baseline :math:`b`,

    .. math::
        \\hat g = (\\log p(x, z) - \\log q_\\lambda(z) - b)\\,\\nabla_\\lambda \\log q_\\lambda(z),
        \\quad z \\sim q_\\lambda,

    where :math:`b` is the decaying average (rate ``baseline_decay``) of the previous estimates'
    :math:`\\log p - \\log q` (computed before the current draw, so the estimator stays unbiased);
    ``baseline_decay=0`` is no baseline. The guide's parameters are initialised by running it once
    under the seed and left unchanged.
    """
    if estimator not in ("reparam", "score"):
        raise ValueError(f"Unknown estimator {estimator!r}: choose 'reparam' or 'score'.")
    if not 0 <= baseline_decay < 1:
        raise ValueError(f"baseline_decay must lie in [0, 1), got {baseline_decay}.")
    grads: dict[str, list[np.ndarray]] = {}
    with seeded(seed):
        param_trace = poutine.trace(guide, param_only=True).get_trace(*args, **kwargs)
        names = [name for name, site in param_trace.nodes.items() if site["type"] == "param"]
        params = [pyro.param(name).unconstrained() for name in names]
        run_guide = guide if estimator == "reparam" else score_function_guide(guide)
        baseline = 0.0
        for t in range(num_estimates):
            guide_trace = poutine.trace(run_guide).get_trace(*args, **kwargs)
            model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
            log_q, log_p = guide_trace.log_prob_sum(), model_trace.log_prob_sum()
            if estimator == "reparam":
                objective = log_p - log_q
            else:
                f = (log_p - log_q).detach()
                objective = log_q * (f - (baseline if t > 0 else 0.0))
                baseline = f.item() if t == 0 else baseline_decay * baseline + (1 - baseline_decay) * f.item()
            for name, grad in zip(names, torch.autograd.grad(objective, params, allow_unused=True)):
                grads.setdefault(name, []).append(np.zeros(1) if grad is None else grad.detach().numpy().copy())
    stacked = {name: np.stack(values) for name, values in grads.items()}
    return GradientStats({n: v.mean(0) for n, v in stacked.items()}, {n: v.var(0, ddof=1) for n, v in stacked.items()},
                         num_estimates)
