"""Seeding PyTorch (and Pyro) without touching the caller's generator or parameter store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded", "torch_seeded"]


@contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Run the block with PyTorch's CPU generator forked and seeded with ``seed``.

    Draws inside the block are reproducible, and the caller's generator state is restored on exit, so
    library code that must draw from torch's generator (Pyro, GPyTorch's probes, module initialisers)
    leaves no global state behind.
    """
    with torch.random.fork_rng(devices=[]):
        torch.random.manual_seed(seed)
        yield


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a Pyro block with PyTorch's generator forked and seeded, and a fresh Pyro parameter store.

    The caller's parameter store is saved and restored on exit, so a library call neither sees the user's
    ``pyro.param`` values nor leaves its own behind.
    """
    import pyro  # here, so that torch_seeded alone does not load Pyro

    with torch_seeded(seed):
        store = pyro.get_param_store()
        saved = store.get_state()
        store.clear()
        try:
            yield
        finally:
            store.clear()  # set_state merges: without this, the block's parameters leak to the caller
            store.set_state(saved)
