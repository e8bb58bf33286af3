"""Metropolis-Hastings and adaptive random-walk Metropolis, vectorised over chains (course §3.2).

Every chain advances in the same numpy call, so 64 chains cost little more than one. The samplers follow
the engine trio: :func:`mh_init` builds the state, :func:`mh_step` moves every chain once and
:func:`metropolis_hastings` / :func:`random_walk_metropolis` run warm-up and sampling and return a
:class:`~pgm_ppl.core.result.Fit` (acceptance rates in ``sample_stats``) that converts to ArviZ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from pgm_ppl.core.result import Fit

LogDensity = Callable[[np.ndarray], np.ndarray]
"""An unnormalised log target: maps states ``(num_chains, d)`` to log-densities ``(num_chains,)``."""


class MHState(NamedTuple):
    """Current position ``z`` ``(num_chains, d)`` of every chain and its log target ``log_p``."""

    z: np.ndarray
    log_p: np.ndarray


class MHInfo(NamedTuple):
    """Per-chain outcome of one step: the acceptance probability and whether the move was accepted."""

    accept_prob: np.ndarray
    accepted: np.ndarray


def mh_init(log_target: LogDensity, init: np.ndarray, num_chains: int | None = None) -> MHState:
    """Start every chain at ``init`` (shape ``(d,)`` shared, or ``(num_chains, d)``)."""
    z = np.atleast_1d(np.asarray(init, dtype=np.float64))
    if z.ndim == 1:
        z = np.broadcast_to(z, (num_chains or 1, z.shape[0])).copy()
    if z.ndim != 2:
        raise ValueError(f"init must have shape (d,) or (num_chains, d), got {z.shape}.")
    if num_chains is not None and z.shape[0] != num_chains:
        raise ValueError(f"init has {z.shape[0]} rows but num_chains={num_chains}.")
    log_p = np.asarray(log_target(z), dtype=np.float64)
    if log_p.shape != (z.shape[0],):
        raise ValueError(f"log_target must map shape {z.shape} to ({z.shape[0]},), got {log_p.shape}.")
    if not np.all(np.isfinite(log_p)):
        raise ValueError("log_target is not finite at init: start the chains inside the support.")
    return MHState(z, log_p)


def mh_step(state: MHState, log_target: LogDensity, propose: Callable, rng: np.random.Generator,
            log_proposal: Callable | None = None) -> tuple[MHState, MHInfo]:
    """One Metropolis-Hastings move of every chain, course eq. (3.2).

    .. math::
        \\alpha(z, z') = \\min\\Big(1, \\frac{p(x, z')\\, q(z \\mid z')}{p(x, z)\\, q(z' \\mid z)}\\Big),

    with :math:`p(x, z)` the unnormalised target (Remark 3.2: the evidence cancels) and :math:`q` the
    proposal. ``propose(rng, z)`` draws :math:`z'` for all chains; ``log_proposal(z_to, z_from)`` gives
    :math:`\\log q(z_{to} \\mid z_{from})`, or None for a symmetric proposal (Metropolis, Remark 3.4).
    """
    z_new = propose(rng, state.z)
    log_p_new = np.asarray(log_target(z_new), dtype=np.float64)
    log_ratio = log_p_new - state.log_p
    if log_proposal is not None:
        log_ratio = log_ratio + log_proposal(state.z, z_new) - log_proposal(z_new, state.z)
    log_ratio = np.where(np.isnan(log_ratio), -np.inf, log_ratio)
    accept_prob = np.exp(np.minimum(log_ratio, 0.0))
    accepted = np.log(rng.uniform(size=accept_prob.shape)) < log_ratio
    z = np.where(accepted[:, None], z_new, state.z)
    log_p = np.where(accepted, log_p_new, state.log_p)
    return MHState(z, log_p), MHInfo(accept_prob, accepted)


def metropolis_hastings(log_target: LogDensity, init: np.ndarray, propose: Callable, *,
                        log_proposal: Callable | None = None, num_samples: int = 1000, num_warmup: int = 0,
                        num_chains: int = 4, thin: int = 1, seed: int = 0, site: str = "z") -> Fit:
    """Metropolis-Hastings with a user proposal, all chains at once.

    Parameters
    ----------
    log_target
        Unnormalised log target, vectorised: ``(num_chains, d) -> (num_chains,)``.
    init
        Starting point ``(d,)`` (all chains) or ``(num_chains, d)``.
    propose, log_proposal
        Proposal sampler ``propose(rng, z) -> z'`` and its log-density ``log_proposal(z_to, z_from)``
        (None when symmetric); see :func:`mh_step`.
    num_samples, num_warmup, num_chains, thin
        Draws kept per chain after discarding ``num_warmup`` (burn-in) and keeping every ``thin``-th.
    seed
        Seed of the sampler's random generator.
    site
        Name of the variable in the returned posterior.

    Returns
    -------
    Fit
        ``posterior[site]`` of shape ``(num_chains, num_samples, d)``; ``sample_stats`` holds
        ``acceptance_rate`` (the acceptance probability), ``accepted`` and ``lp`` per kept draw.
    """
    _check_counts(num_samples=num_samples, num_warmup=num_warmup, num_chains=num_chains, thin=thin)
    rng = np.random.default_rng(seed)
    state = mh_init(log_target, init, num_chains)
    step = lambda s, _: mh_step(s, log_target, propose, rng, log_proposal)  # noqa: E731
    return _run(state, step, num_samples, num_warmup, thin, site, "mh", log_target, {})


def random_walk_metropolis(log_target: LogDensity, init: np.ndarray, *, step_size: float = 1.0,
                           num_samples: int = 1000, num_warmup: int = 1000, num_chains: int = 4,
                           thin: int = 1, adapt: bool = True, target_accept: float = 0.234, seed: int = 0,
                           site: str = "z") -> Fit:
    """Random-walk Metropolis, proposal :math:`z' \\sim \\mathcal N(z, \\sigma^2 I)` (course §3.2.1).

    During warm-up each chain adapts :math:`\\log \\sigma` by Robbins-Monro towards ``target_accept``
    (0.234 is optimal for many-dimensional Gaussian targets; about 0.44 in one dimension):

    .. math::
        \\log \\sigma_{t+1} = \\log \\sigma_t + t^{-0.6}\\,(\\alpha_t - \\alpha^\\star),

    then freezes it for sampling, so the kept draws come from a valid Markov chain.

    Parameters
    ----------
    step_size
        Initial proposal standard deviation :math:`\\sigma` (final one when ``adapt=False``).
    adapt, target_accept
        Whether to adapt the step size during warm-up, and the acceptance rate it aims at.

    Other parameters and the return value are those of :func:`metropolis_hastings`; ``sample_stats``
    also holds the (per-chain, frozen) ``step_size``.
    """
    if not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size}.")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept}.")
    _check_counts(num_samples=num_samples, num_warmup=num_warmup, num_chains=num_chains, thin=thin)
    rng = np.random.default_rng(seed)
    state = mh_init(log_target, init, num_chains)
    log_sigma = np.full(state.z.shape[0], np.log(step_size))

    def propose(generator, z):
        return z + np.exp(log_sigma)[:, None] * generator.standard_normal(z.shape)

    def step(s, t):
        nonlocal log_sigma
        new, info = mh_step(s, log_target, propose, rng)
        if adapt and t < num_warmup:
            log_sigma = log_sigma + (t + 1.0) ** -0.6 * (info.accept_prob - target_accept)
        return new, info

    extra = {"step_size": lambda: np.exp(log_sigma)}
    return _run(state, step, num_samples, num_warmup, thin, site, "rwm", log_target, extra)


def _run(state: MHState, step: Callable, num_samples: int, num_warmup: int, thin: int, site: str,
         method: str, log_target: Callable, extra: dict) -> Fit:
    """Burn in, then keep every ``thin``-th state; stack per-chain draws into a Fit."""
    start = time.perf_counter()
    for t in range(num_warmup):
        state, _ = step(state, t)
    chains, d = state.z.shape
    draws = np.empty((chains, num_samples, d))
    stats = {name: np.empty((chains, num_samples)) for name in ("acceptance_rate", "lp", *extra)}
    accepted = np.empty((chains, num_samples), dtype=bool)
    t = num_warmup
    for i in range(num_samples):
        for _ in range(thin):
            state, info = step(state, t)
            t += 1
        draws[:, i], accepted[:, i] = state.z, info.accepted
        stats["acceptance_rate"][:, i], stats["lp"][:, i] = info.accept_prob, state.log_p
        for name, value in extra.items():
            stats[name][:, i] = value()
    return Fit(method=method, backend="numpy", model=log_target, args=(), kwargs={}, posterior={site: draws},
               sample_stats={**stats, "accepted": accepted}, dims={site: [f"{site}_dim"]},
               seconds=time.perf_counter() - start)


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        minimum = 0 if name == "num_warmup" else 1
        if not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
