"""Seeding PyTorch without touching the caller's generator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


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
