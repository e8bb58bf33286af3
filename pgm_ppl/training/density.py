"""The :class:`~pgm_ppl.core.Density` of a trained module: held-out ``log_prob`` and seeded ``sample``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyro
import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core import check_data, check_int, stream
from pgm_ppl.training.protocol import LOG_PROB_KINDS

__all__ = ["ModuleDensity", "scoped_param_store"]


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
    """

    def __init__(self, module: torch.nn.Module, *, dtype: torch.dtype, device: torch.device, batch_size: int = 1024):
        kind = getattr(module, "log_prob_kind", "exact")
        if kind not in LOG_PROB_KINDS:
            raise ValueError(f"{type(module).__name__}.log_prob_kind: expected one of "
                             f"{', '.join(map(repr, LOG_PROB_KINDS))}, got {kind!r}.")
        self.kind = kind
        self.module = module
        self.dtype, self.device, self.batch_size = dtype, device, batch_size

    def log_prob(self, x: Any) -> np.ndarray:
        """One log-density per row of ``x``, shape ``(n,)``, float64 (see ``self.kind`` for what it is)."""
        if not callable(getattr(self.module, "log_prob", None)):
            raise NotImplementedError(f"{type(self.module).__name__} has no log_prob(x) method.")
        x = check_data(x, "x", ndim=None, dtype=None)
        tensor = to_tensor(x, self.dtype, self.device)
        with self._evaluating(stream(0, "log_likelihood")):
            parts = [self.module.log_prob(chunk).reshape(-1) for chunk in torch.split(tensor, self.batch_size)]
        return torch.cat(parts).detach().cpu().numpy().astype(np.float64)

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        """``num_samples`` draws from the trained model, shape ``(num_samples, *event_shape)``."""
        num_samples = check_int(num_samples, "num_samples")
        if not callable(getattr(self.module, "sample", None)):
            raise NotImplementedError(f"{type(self.module).__name__} has no sample(num_samples) method.")
        with self._evaluating(seed):
            draws = self.module.sample(num_samples)
        draws = draws.detach().cpu().numpy()
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


def to_tensor(array: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A float array in the training dtype, an integer array (token ids) as int64, on ``device``."""
    if np.issubdtype(array.dtype, np.floating):
        return torch.as_tensor(array, dtype=dtype, device=device)
    return torch.as_tensor(array, dtype=torch.int64 if np.issubdtype(array.dtype, np.integer) else None,
                           device=device)
