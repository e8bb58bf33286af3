"""Shared warm-up-and-repeat timer for the side-by-side benchmarks in this folder.

Each benchmark script times our function and the reference library's in one process, on the same inputs,
and prints the ratio. Run one with ``.venv/bin/python benchmarks/<script>.py`` or all with ``make bench``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


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
