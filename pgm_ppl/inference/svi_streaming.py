"""Stochastic variational inference over mini-batches (Hoffman et al., 2013), on Pyro.

The model sees one mini-batch at a time inside ``pyro.plate(name, num_data, subsample=...)``, so Pyro
scales its log-likelihood by :math:`N/B`: the mini-batch ELBO is an unbiased estimate of the full ELBO
and its gradient an unbiased estimate of the full gradient. :func:`run_streaming_svi` feeds batches of
rows from an array that may be far larger than one batch (a ``numpy.memmap`` works: only the current
block is read), visiting every row once per epoch in a shuffled order of contiguous blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pyro
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam

from pgm_ppl.backend.seeding import seeded
from pgm_ppl.core.result import Fit
from pgm_ppl.inference.errors import NonFiniteLossError, non_finite_message
from pgm_ppl.inference.pyro_engine import non_finite_site


def data_plate(name: str, batch: torch.Tensor, num_data: int | None = None) -> pyro.plate:
    """The plate for a mini-batch ``batch`` (first axis) of a data set of ``num_data`` rows:
    log-likelihood terms are scaled by ``num_data / len(batch)`` (no scaling when ``num_data`` is None)."""
    size = len(batch) if num_data is None else int(num_data)
    return pyro.plate(name, size, subsample=torch.arange(len(batch)))


def minibatches(data: np.ndarray, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One epoch of mini-batches: contiguous blocks of ``batch_size`` rows in a random order (the last
    block may be shorter); each block is copied out of ``data`` as float64 only when it is needed."""
    starts = np.arange(0, len(data), batch_size)
    for start in rng.permutation(starts):
        yield np.asarray(data[start:start + batch_size], dtype=np.float64)


def run_streaming_svi(model: Callable, guide: Callable, data: np.ndarray, *, batch_size: int = 256,
                      num_epochs: int = 10, learning_rate: float = 0.01, lr_decay: float = 1.0,
                      num_particles: int = 1, seed: int = 0, model_kwargs: dict | None = None) -> Fit:
    """SVI with Adam on mini-batches streamed from ``data``.

    Parameters
    ----------
    model, guide
        Pyro functions ``model(batch, num_data=N, **model_kwargs)`` whose data plate is
        :func:`data_plate` (or ``pyro.plate(..., N, subsample=...)``), and a guide of the same signature.
    data
        Array (or memmap) with one data point per row.
    batch_size, num_epochs
        Rows per step and passes over the data.
    learning_rate, lr_decay
        Adam's step size and its per-step multiplicative decay (``ClippedAdam``'s ``lrd``; Robbins-Monro
        style decay makes the iterates settle rather than jitter).
    num_particles
        Draws of the guide per step in the ELBO estimate (more particles, less gradient noise).
    seed
        Seeds Pyro's sampling (inside a forked torch generator and a fresh parameter store, so the caller's
        random state and ``pyro.param`` values are untouched) and the batch order.

    Returns
    -------
    Fit
        ``method="svi"``, ``backend="pyro"``; ``losses`` is the mini-batch estimate of the full-data
        negative ELBO at every step, ``params`` the guide parameters (constrained); ``posterior`` is
        empty (draw from the guide with ``params``).

    Raises
    ------
    pgm_ppl.inference.errors.NonFiniteLossError
        When the loss becomes NaN or infinite (names the step and the site), as :func:`pgm_ppl.fit` does.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if len(data) == 0:
        raise ValueError("data is empty.")
    model_kwargs = dict(model_kwargs or {})
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    with seeded(seed):
        optimiser = ClippedAdam({"lr": learning_rate, "lrd": lr_decay})
        svi = SVI(model, guide, optimiser, Trace_ELBO(num_particles=num_particles))
        losses = []
        for _ in range(num_epochs):
            for batch in minibatches(data, batch_size, rng):
                args, kwargs = (torch.as_tensor(batch),), {"num_data": len(data), **model_kwargs}
                try:
                    loss = svi.step(*args, **kwargs)
                except ValueError as error:  # Pyro's argument validation meets a parameter gone non-finite
                    site = non_finite_site(model, guide, args, kwargs)
                    if site is None:
                        raise
                    raise NonFiniteLossError(non_finite_message(len(losses) + 1, float("nan"), site)) from error
                if not np.isfinite(loss):
                    site = non_finite_site(model, guide, args, kwargs)
                    raise NonFiniteLossError(non_finite_message(len(losses) + 1, loss, site))
                losses.append(loss)
        params = {name: pyro.param(name).detach().numpy().copy() for name in pyro.get_param_store().keys()}
    return Fit(method="svi", backend="pyro", model=model, args=(), kwargs=model_kwargs, posterior={},
               losses=np.array(losses), objective="negative_elbo", params=params, guide=guide, seconds=time.perf_counter() - start)
