"""Shared warm-up-and-repeat timer for the side-by-side benchmarks in this folder.

Each benchmark script times our function and the reference library's in one process, on the same inputs,
and prints the ratio. Run one with ``.venv/bin/python benchmarks/<script>.py`` or all with ``make bench``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls: the best and the median of ``repeat`` runs."""

    name: str
    best: float
    median: float


def time_call(name: str, fn: Callable[[], object], *, warmup: int = 1, repeat: int = 5) -> Timing:
    """Call ``fn`` ``warmup`` times untimed (JIT compilation, caches), then ``repeat`` times timed."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return Timing(name, min(runs), statistics.median(runs))


def report(ours: Timing, reference: Timing, *, goal: str = "") -> float:
    """Print both timings and the ratio reference/ours (>1 means we are faster); return the ratio."""
    ratio = reference.median / ours.median
    print(f"{ours.name}: {ours.median:.4g} s (best {ours.best:.4g})")
    print(f"{reference.name}: {reference.median:.4g} s (best {reference.best:.4g})")
    print(f"speed-up {reference.name} / {ours.name} = {ratio:.3g}x" + (f"   [goal: {goal}]" if goal else ""))
    return ratio


def plain_batches(data: Any, batch_size: int, seed: int = 0) -> Iterator[Any]:
    """Endless mini-batches as a plain PyTorch loop draws them, for the reference side of a benchmark.

    Each epoch is a fresh ``torch.randperm`` from one seeded generator, cut into batches of ``batch_size`` rows;
    the incomplete last batch is dropped (as the training engine does), so both sides see equal-size batches.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data) - batch_size + 1, batch_size):
            yield data[order[start:start + batch_size]]
