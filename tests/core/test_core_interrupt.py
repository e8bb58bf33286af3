"""interruptible(): the first Ctrl-C is raised at the next step boundary, a second one at once."""

import os
import signal

import pytest

from pgm_ppl.core.interrupt import interruptible


@pytest.fixture
def python_handler():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job inherits SIG_IGN
    yield
    signal.signal(signal.SIGINT, previous)


def test_first_ctrl_c_waits_for_the_step_boundary(python_handler):
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interruptible() as check:
            for step in range(5):
                check()
                steps.append(step)
                if step == 1:
                    os.kill(os.getpid(), signal.SIGINT)  # recorded, not raised inside the step
    assert steps == [0, 1]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_ctrl_c_raises_at_once(python_handler):
    with pytest.raises(KeyboardInterrupt):
        with interruptible():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            raise AssertionError("not reached")


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interruptible() as check:
            os.kill(os.getpid(), signal.SIGINT)
            check()
    finally:
        signal.signal(signal.SIGINT, previous)
