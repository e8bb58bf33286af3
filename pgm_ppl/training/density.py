r"""The :class:`~pgm_ppl.core.Density` of a trained module: held-out ``log_prob`` and seeded ``sample``.

A module with a ``log_prob(x)`` method is evaluated by it. A module with a Pyro ``model`` and ``guide`` but no
``log_prob`` (a VAE as usually written) gets the per-row evidence lower bound of Kingma & Welling (2014),

.. math::
    \mathrm{ELBO}(x_n) = \mathbb E_{q_\phi(z \mid x_n)}\big[\log p_\theta(x_n, z) - \log q_\phi(z \mid x_n)\big]
    \le \log p_\theta(x_n),

estimated with ``num_particles`` draws of the guide (``kind="lower_bound"``): a bound on the held-out
log-likelihood in expectation, not the log-likelihood itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyro
import pyro.poutine as poutine
import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core import check_data, check_int, stream
from pgm_ppl.training.batches import num_rows, row_shape, split_rows
from pgm_ppl.training.protocol import LOG_PROB_KINDS

__all__ = ["ModuleDensity", "convert_rows", "per_row_elbo", "scoped_param_store"]


@contextmanager
def scoped_param_store() -> Iterator[None]:
    """Run the block with an empty Pyro parameter store and give the caller's back on exit.

    A :class:`~pyro.nn.PyroModule` mirrors its ``PyroParam`` s into the global store whenever it runs; the
    scope keeps them (and any ``pyro.param`` a model makes) out of the caller's store.
    """
    store = pyro.get_param_store()
    saved = store.get_state()
    store.clear()
    try:
        yield
    finally:
        store.clear()  # set_state merges: without this the block's parameters would stay
        store.set_state(saved)


class ModuleDensity:
    """Wrap a trained module with ``log_prob``/``sample`` as a :class:`~pgm_ppl.core.Density`.

    ``log_prob`` runs in batches of ``batch_size`` rows under ``torch.no_grad`` and returns float64 numpy;
    stochastic estimates (``kind="estimate"`` or ``"lower_bound"``) draw from a generator seeded by the
    ``"log_likelihood"`` stream, so repeated calls agree. ``sample`` runs under ``torch_seeded(seed)``.

    A module without ``log_prob`` but with ``model`` and ``guide`` is evaluated by :func:`per_row_elbo`
    (``kind="lower_bound"``, ``num_particles`` guide draws averaged per row). ``event_shape`` (the shape of one
    training row) is checked against the rows given to ``log_prob``.
    """

    def __init__(self, module: torch.nn.Module, *, dtype: torch.dtype, device: torch.device, batch_size: int = 1024,
                 event_shape: tuple[int, ...] | None = None, num_particles: int = 1):
        if not callable(getattr(module, "log_prob", None)) and _has_model_and_guide(module):
            kind = "lower_bound"  # the per-row ELBO
        else:
            kind = getattr(module, "log_prob_kind", "exact")
            if kind not in LOG_PROB_KINDS:
                raise ValueError(f"{type(module).__name__}.log_prob_kind: expected one of "
                                 f"{', '.join(map(repr, LOG_PROB_KINDS))}, got {kind!r}.")
        self.kind = kind
        self.module = module
        self.dtype, self.device, self.batch_size = dtype, device, batch_size
        self.event_shape = None if event_shape is None else tuple(event_shape)
        self.num_particles = check_int(num_particles, "num_particles")

    @property
    def has_log_prob(self) -> bool:
        """Whether ``log_prob`` can be evaluated: the module's own ``log_prob``, or the ELBO of model and guide."""
        return callable(getattr(self.module, "log_prob", None)) or _has_model_and_guide(self.module)

    def log_prob(self, x: Any) -> np.ndarray:
        """One log-density per row of ``x``, shape ``(n,)``, float64 (see ``self.kind`` for what it is)."""
        name = type(self.module).__name__
        if not self.has_log_prob:
            raise NotImplementedError(f"{name} has no log_prob(x) method (nor a Pyro model and guide whose ELBO "
                                      "would bound it); define log_prob(x) to evaluate held-out rows.")
        if isinstance(x, tuple):  # (x, context, ...): a conditional model's rows
            tensor = convert_rows(x, "x", self.dtype, self.device)
        else:
            tensor = to_tensor(check_data(x, "x", ndim=None, dtype=None), self.dtype, self.device)
        if self.event_shape is not None and row_shape(tensor) != self.event_shape:
            raise ValueError(f"x: expected an array of rows of shape {self.event_shape} (the training data's "
                             f"rows), got shape {_shape_of(tensor)}.")
        own = callable(getattr(self.module, "log_prob", None))
        with self._evaluating(stream(0, "log_likelihood")):
            parts = [(self.module.log_prob(chunk) if own else
                      per_row_elbo(self.module.model, self.module.guide, chunk, self.num_particles)).reshape(-1)
                     for chunk in split_rows(tensor, self.batch_size)]
        return torch.cat(parts).detach().cpu().to(torch.float64).numpy()

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        """``num_samples`` draws from the trained model, shape ``(num_samples, *event_shape)``."""
        num_samples = check_int(num_samples, "num_samples")
        if not callable(getattr(self.module, "sample", None)):
            raise NotImplementedError(f"{type(self.module).__name__} has no sample(num_samples) method; define one "
                                      "(returning num_samples rows drawn from the model) to generate data.")
        with self._evaluating(seed):
            draws = self.module.sample(num_samples)
        draws = draws.detach().cpu()
        if draws.dtype == torch.bfloat16:
            draws = draws.float()
        draws = draws.numpy()
        return draws.astype(np.float64) if np.issubdtype(draws.dtype, np.floating) else draws

    @contextmanager
    def _evaluating(self, seed: int) -> Iterator[None]:
        was_training = self.module.training
        self.module.eval()
        try:
            with torch_seeded(seed), scoped_param_store(), torch.no_grad():
                yield
        finally:
            self.module.train(was_training)


def _has_model_and_guide(module: Any) -> bool:
    return callable(getattr(module, "model", None)) and callable(getattr(module, "guide", None))


def per_row_elbo(model: Any, guide: Any, x: torch.Tensor, num_particles: int = 1) -> torch.Tensor:
    """The ELBO of each row of ``x``, shape ``(n,)``: guide traced, model replayed on it, averaged over particles.

    Each sample site's ``log_prob`` (Pyro's ``compute_log_prob``: scaled and masked) is summed over every
    dimension but the data plate's (the plate of size ``n``); the row's ELBO is the model's sum minus the guide's.
    A site outside every plate of size ``n`` (a global latent) is shared equally among the rows, so the rows
    still add up to the ELBO of the batch. It is a lower bound on ``log p(x_n)`` in expectation (Kingma &
    Welling 2014); one particle is an unbiased estimate of the bound, not a bound itself.
    """
    n = num_rows(x)
    device = (x[0] if isinstance(x, tuple) else x).device
    total = torch.zeros(n, dtype=torch.float64, device=device)
    for _ in range(num_particles):
        with poutine.block():
            guide_trace = poutine.trace(guide).get_trace(x)
            model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x)
        total = total + _row_log_prob(model_trace, n, device) - _row_log_prob(guide_trace, n, device)
    return total / num_particles


def _row_log_prob(trace: Any, n: int, device: torch.device) -> torch.Tensor:
    trace.compute_log_prob()
    rows = None
    for site in trace.nodes.values():
        if site["type"] != "sample":
            continue
        log_p = site["log_prob"]
        log_p = log_p.to(torch.float64) if isinstance(log_p, torch.Tensor) else torch.tensor(float(log_p), device=device)
        frame = next((f for f in site["cond_indep_stack"] if f.size == n and f.dim is not None
                      and log_p.dim() >= -f.dim and log_p.shape[f.dim] == n), None)
        if frame is None:
            row = log_p.sum().expand(n) / n
        else:
            row = log_p.movedim(frame.dim, 0).reshape(n, -1).sum(-1)
        rows = row if rows is None else rows + row
    return torch.zeros(n, dtype=torch.float64, device=device) if rows is None else rows


def to_tensor(array: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A float array in the training dtype, an integer array (token ids) as int64, on ``device``."""
    if np.issubdtype(array.dtype, np.floating):
        return torch.as_tensor(array, dtype=dtype, device=device)
    return torch.as_tensor(array, dtype=torch.int64 if np.issubdtype(array.dtype, np.integer) else None,
                           device=device)


def _shape_of(value: Any) -> Any:
    """A tensor's shape, or the list of a tuple's tensors' shapes (for messages)."""
    return [tuple(part.shape) for part in value] if isinstance(value, tuple) else tuple(value.shape)


def convert_rows(arrays: tuple, name: str, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """A tuple of arrays with the same number of rows (``(x, y)``: data and labels or context) as tensors.

    Raises
    ------
    ValueError
        If the tuple is empty or its arrays' row counts differ (the message gives each array's shape).
    """
    if not arrays:
        raise ValueError(f"{name}: expected a tuple of arrays with the same rows, got an empty tuple.")
    tensors = tuple(to_tensor(check_data(part, f"{name}[{i}]", ndim=None, dtype=None), dtype, device)
                    for i, part in enumerate(arrays))
    if any(t.ndim == 0 for t in tensors) or len({t.shape[0] for t in tensors}) != 1:
        raise ValueError(f"{name}: expected arrays with the same number of rows, got shapes "
                         f"{[tuple(t.shape) for t in tensors]}.")
    return tensors
