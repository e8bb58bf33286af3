"""Ctrl-C deferred to the end of a step: :class:`DeferredInterrupt` (the training engine, which checkpoints before
it lets the interrupt through) and :func:`interruptible` (the SVI loops of :mod:`pgm_ppl.inference`).

Python raises :class:`KeyboardInterrupt` in whatever code runs when SIGINT arrives. In a loop over JAX steps that
is often one of JAX's garbage-collection callbacks, where the exception is printed as "Exception ignored" and
dropped, so the loop runs on (an SVI fit of 10,000,000 steps ignored Ctrl-C); during an import it becomes a
``RuntimeError`` from ``__set_name__``. Inside :func:`interruptible` the first Ctrl-C only records the request, and
the loop calls the yielded ``check()`` once per step, which raises :class:`KeyboardInterrupt` there; a second
Ctrl-C raises at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DeferredInterrupt", "interruptible"]


class DeferredInterrupt:
    """Hold a SIGINT until the running step completes (installed in the main thread only, then restored).

    ``deliver(save)`` between steps: if a SIGINT came, checkpoint with ``save`` and hand the signal to the
    handler that was installed before (Python's default raises KeyboardInterrupt). A second SIGINT while the
    first waits raises KeyboardInterrupt at once.
    """

    def __init__(self) -> None:
        self.requested = self.saved = False
        self.previous: Any = None

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not None and previous is not signal.SIG_IGN:  # None: a handler not set from Python
                self.previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def deliver(self, save: Callable[[], None]) -> None:
        if not self.requested:
            return
        self.requested = False
        save()
        self.saved = True
        if callable(self.previous):
            self.previous(signal.SIGINT, None)
        else:  # SIG_DFL
            raise KeyboardInterrupt
        self.saved = False  # the previous handler chose to carry on


def _nothing_to_save() -> None:
    pass


@contextmanager
def interruptible() -> Iterator[Callable[[], None]]:
    """Yield ``check()``: raises :class:`KeyboardInterrupt` if Ctrl-C was pressed inside the block.

    A :class:`DeferredInterrupt` with nothing to save: the first Ctrl-C is raised by the next ``check()`` (at a
    step boundary, never inside a library's callback); a second one raises at once. Outside the main thread, or
    when SIGINT is ignored, the block runs unchanged and ``check`` does nothing.
    """
    with DeferredInterrupt() as interrupt:
        yield lambda: interrupt.deliver(_nothing_to_save)
