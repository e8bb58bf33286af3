"""Gibbs sampling from user-supplied full conditionals, vectorised over chains (course §3.2.2).

A block update draws :math:`z_j \\sim p(z_j \\mid z_{-j}, x)`; as a Metropolis-Hastings move its
acceptance probability is one (course eq. (3.3)), so ``sample_stats["acceptance_rate"]`` is identically 1
and is kept only so that Gibbs, MH and NUTS fits read the same in ArviZ.
"""

from __future__ import annotations

import time
from functools import partial
from collections.abc import Callable, Mapping

import numpy as np

from pgm_ppl.core.result import Fit

Conditional = Callable[[np.random.Generator, dict[str, np.ndarray]], np.ndarray]
"""A full conditional sampler: ``(rng, state) -> new value of its block`` for every chain at once; every
array of ``state`` has the chains on its first axis."""

SCANS = ("systematic", "random")


def gibbs_init(init: Mapping[str, np.ndarray], num_chains: int) -> dict[str, np.ndarray]:
    """Copy ``init`` with a leading chain axis: a value of shape ``site_shape`` is shared by all chains;
    one of shape ``(num_chains, *site_shape)`` gives each chain its own start."""
    state = {}
    for name, value in init.items():
        value = np.asarray(value, dtype=np.float64)
        if value.ndim == 0 or value.shape[0] != num_chains:
            value = np.broadcast_to(value, (num_chains,) + value.shape)
        state[name] = value.copy()
    return state


def gibbs_step(state: dict[str, np.ndarray], conditionals: Mapping[str, Conditional], rng: np.random.Generator,
               scan: str = "systematic") -> dict[str, np.ndarray]:
    """One sweep: every block in order (systematic scan), or as many blocks each picked uniformly at
    random (random scan; the same block for all chains at a given update)."""
    names = list(conditionals)
    order = names if scan == "systematic" else [names[i] for i in rng.integers(len(names), size=len(names))]
    state = dict(state)
    for name in order:
        value = np.asarray(conditionals[name](rng, state), dtype=np.float64)
        if value.shape != state[name].shape:
            raise ValueError(f"conditional of {name!r} returned shape {value.shape}, expected "
                             f"{state[name].shape} (num_chains first).")
        state[name] = value
    return state


def gibbs(conditionals: Mapping[str, Conditional], init: Mapping[str, np.ndarray], *, num_samples: int = 1000,
          num_warmup: int = 0, num_chains: int = 4, thin: int = 1, scan: str = "systematic",
          seed: int = 0) -> Fit:
    """Run a Gibbs sampler: ``num_warmup`` burn-in sweeps, then ``num_samples`` kept sweeps, each
    ``thin``-th.

    .. math::
        z_j^{(t+1)} \\sim p\\big(z_j \\mid z_1^{(t+1)}, \\dots, z_{j-1}^{(t+1)}, z_{j+1}^{(t)}, \\dots, x\\big).

    Parameters
    ----------
    conditionals
        Block name -> full conditional sampler (see :data:`Conditional`), in scan order.
    init
        Block name -> starting value (shared, or one per chain); must name every block.
    num_samples, num_warmup, num_chains, thin
        Kept draws per chain, burn-in sweeps, chains, and thinning interval.
    scan
        "systematic" (fixed order) or "random".
    seed
        Seed of the random generator handed to the conditionals.

    Returns
    -------
    Fit
        ``posterior[name]`` of shape ``(num_chains, num_samples, *block_shape)`` for every block.
    """
    if scan not in SCANS:
        raise ValueError(f"Unknown scan {scan!r}: choose one of {SCANS}.")
    missing = set(conditionals) - set(init)
    if missing:
        raise ValueError(f"init has no value for the blocks {sorted(missing)}.")
    for name, value in {"num_samples": num_samples, "num_chains": num_chains, "thin": thin}.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not isinstance(num_warmup, (int, np.integer)) or num_warmup < 0:
        raise ValueError(f"num_warmup must be a non-negative integer, got {num_warmup!r}.")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    state = gibbs_init(init, num_chains)
    for _ in range(num_warmup):
        state = gibbs_step(state, conditionals, rng, scan)
    draws = {name: np.empty((num_chains, num_samples) + value.shape[1:]) for name, value in state.items()}
    for i in range(num_samples):
        for _ in range(thin):
            state = gibbs_step(state, conditionals, rng, scan)
        for name, value in state.items():
            draws[name][:, i] = value
    dims = {name: [f"{name}_dim_{k}" for k in range(value.ndim - 2)] for name, value in draws.items()}
    return Fit(method="gibbs", backend="numpy", model=partial(gibbs_step, conditionals=dict(conditionals)),
               args=(), kwargs={}, posterior=draws,
               sample_stats={"acceptance_rate": np.ones((num_chains, num_samples))}, dims=dims,
               seconds=time.perf_counter() - start)
