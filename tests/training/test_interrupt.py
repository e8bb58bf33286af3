"""Ctrl-C during a step: the checkpoint holds a completed step, so resuming equals the uninterrupted run."""

import os
import signal

import numpy as np
import pytest
import torch
from models import LinearGaussianFlow, correlated_gaussian
from torch.optim.optimizer import register_optimizer_step_post_hook

from pgm_ppl.training import train
from pgm_ppl.training.checkpoint import checkpoint_path

torch.set_num_threads(1)
X = correlated_gaussian(200)
OPTIONS = dict(num_steps=30, batch_size=64, dtype=torch.float64, learning_rate=0.05, seed=0, num_generated=0,
               progress_bar=False)


def _interrupted(tmp_path, action, checkpoint_every=1000):
    """Train with ``action()`` run just after the 11th optimiser update (inside ``optimizer.step``)."""
    calls = {"n": 0}

    def hook(optimizer, args, kwargs):
        calls["n"] += 1
        if calls["n"] == 11:
            action()

    handle = register_optimizer_step_post_hook(hook)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(LinearGaussianFlow(2), X, checkpoint_dir=tmp_path, checkpoint_every=checkpoint_every, **OPTIONS)
    finally:
        handle.remove()
    return torch.load(checkpoint_path(tmp_path), weights_only=True)["step"]


def _assert_resume_equals(tmp_path, reference):
    resumed = train(LinearGaussianFlow(2), X, checkpoint_dir=tmp_path, checkpoint_every=1000, resume=True,
                    **OPTIONS)
    assert np.array_equal(resumed.losses, reference.losses)
    for name, value in reference.params.items():
        assert np.array_equal(resumed.params[name], value), name


@pytest.fixture
def interruptible():
    """Python's own Ctrl-C handler for the test: a process started in the background by a non-interactive shell
    (as CI jobs can be) inherits SIGINT as ignored, and an ignored Ctrl-C is, rightly, left ignored by train."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


def test_sigint_just_after_an_optimiser_update_checkpoints_the_completed_step(tmp_path, interruptible):
    reference = train(LinearGaussianFlow(2), X, **OPTIONS)
    before = signal.getsignal(signal.SIGINT)
    # A real Ctrl-C (SIGINT to this process) arriving after the weights of step 11 changed in place.
    assert _interrupted(tmp_path, lambda: os.kill(os.getpid(), signal.SIGINT)) == 11
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is back
    _assert_resume_equals(tmp_path, reference)


def test_an_interrupt_raised_inside_the_update_leaves_the_last_consistent_checkpoint(tmp_path):
    reference = train(LinearGaussianFlow(2), X, **OPTIONS)

    def interrupt():
        raise KeyboardInterrupt  # not a signal: it cannot be deferred, and the weights hold half of step 11

    with pytest.warns(UserWarning, match="interrupted while the optimiser was updating the weights of step 11"):
        assert _interrupted(tmp_path, interrupt, checkpoint_every=5) == 10
    _assert_resume_equals(tmp_path, reference)
