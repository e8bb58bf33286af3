"""The scan loop of the backends without a compiled one (PyTorch, numpy): ``jax.lax.scan``'s contract in Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def python_scan(f: Callable, init: Any, xs: Any, stack: Callable) -> tuple[Any, Any]:
    """``carry, ys``: ``carry, y = f(carry, x)`` for each ``x`` along the leading axis of ``xs``, the ``y`` stacked
    with ``stack`` (``None`` when ``f`` returns ``None``). ``xs`` and ``y`` may be tuples of arrays (stepped
    through, and stacked, together)."""
    carry, ys = init, []
    for x in zip(*xs) if isinstance(xs, tuple) else xs:
        carry, y = f(carry, x)
        ys.append(y)
    if not ys or ys[0] is None:
        return carry, None
    return carry, tuple(stack(y) for y in zip(*ys)) if isinstance(ys[0], tuple) else stack(ys)
