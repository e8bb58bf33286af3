"""Ctrl-C that is never lost inside a step loop: :func:`interruptible`.

Python raises :class:`KeyboardInterrupt` in whatever code runs when SIGINT arrives. In a loop over JAX steps that
is often one of JAX's garbage-collection callbacks, where the exception is printed as "Exception ignored" and
dropped, so the loop runs on (an SVI fit of 10,000,000 steps ignored Ctrl-C); during an import it becomes a
``RuntimeError`` from ``__set_name__``. Inside :func:`interruptible` the first Ctrl-C only records the request, and
the loop calls the yielded ``check()`` once per step, which raises :class:`KeyboardInterrupt` there (as the
training engine defers Ctrl-C to the end of a step); a second Ctrl-C raises at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["interruptible"]


@contextmanager
def interruptible() -> Iterator[Callable[[], None]]:
    """Yield ``check()``: raises :class:`KeyboardInterrupt` if Ctrl-C was pressed inside the block.

    The first Ctrl-C is raised by the next ``check()`` (at a step boundary, never inside a library's callback);
    a second one raises at once. Outside the main thread, or when SIGINT is ignored or handled by the caller's own
    handler, the block runs unchanged and ``check`` does nothing.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield lambda: None
        return
    requested = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True

    def check() -> None:
        if requested:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
