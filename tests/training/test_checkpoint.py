"""Checkpoints: interrupted + resumed == uninterrupted bit for bit, weights_only loading, foreign checkpoints."""

import re

import numpy as np
import pytest
import torch
from models import LinearGaussianFlow, TinyVAE, correlated_gaussian

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.training import train
from pgm_ppl.training.checkpoint import FORMAT_VERSION, checkpoint_path

torch.set_num_threads(1)
X = correlated_gaussian(200)
# A stochastic guide, several epochs, a schedule and an EMA: every piece of state has to come back.
OPTIONS = dict(num_steps=60, batch_size=64, dtype=torch.float64, lr_schedule="cosine", ema_decay=0.9,
               learning_rate=0.01, seed=3, num_generated=0, progress_bar=False)


def _vae():
    with torch_seeded(11):
        return TinyVAE()


class _Interrupt:
    """A forward pre-hook that raises KeyboardInterrupt (Ctrl-C) on the decoder's ``at``-th call."""

    def __init__(self, at):
        self.calls, self.at = 0, at

    def __call__(self, module, args):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    reference = train(_vae(), X, **OPTIONS)

    interrupted = _vae()
    # One decoder call checks the first batch, then one per step: the 32nd call is step 31.
    handle = interrupted.decoder.register_forward_pre_hook(_Interrupt(32))
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, X, checkpoint_dir=tmp_path, **OPTIONS)
    handle.remove()
    saved = torch.load(checkpoint_path(tmp_path), weights_only=True)  # no unpickling needed
    assert saved["step"] == 30 and saved["header"]["format_version"] == FORMAT_VERSION
    assert saved["header"]["module_class"].endswith("TinyVAE")

    resumed = train(_vae(), X, checkpoint_dir=tmp_path, resume=True, **OPTIONS)
    assert np.array_equal(resumed.losses, reference.losses)
    assert resumed.params.keys() == reference.params.keys()
    for name, value in reference.params.items():
        assert np.array_equal(resumed.params[name], value), name


def test_periodic_checkpoints_resume_to_the_same_end(tmp_path):
    reference = train(_vae(), X, **OPTIONS)
    train(_vae(), X, checkpoint_dir=tmp_path, checkpoint_every=20, **OPTIONS)
    assert torch.load(checkpoint_path(tmp_path), weights_only=True)["step"] == 60
    assert not list(tmp_path.glob(".checkpoint-*"))  # the temporary files were moved into place
    again = train(_vae(), X, checkpoint_dir=tmp_path, resume=True, **OPTIONS)  # already done: nothing to run
    assert np.array_equal(again.losses, reference.losses)


def test_foreign_checkpoints_are_refused(tmp_path):
    train(LinearGaussianFlow(2), X, num_steps=3, checkpoint_dir=tmp_path, checkpoint_every=3, progress_bar=False)
    with pytest.raises(ValueError, match=r"expected a checkpoint of .*TinyVAE, got one of .*LinearGaussianFlow"):
        train(TinyVAE(), X, num_steps=5, checkpoint_dir=tmp_path, resume=True, progress_bar=False)
    with pytest.raises(ValueError, match=re.escape("parameter 'b' with shape [2] in the checkpoint and [3] in")):
        train(LinearGaussianFlow(3), np.ones((4, 3)), num_steps=5, checkpoint_dir=tmp_path, resume=True,
              progress_bar=False)
    payload = torch.load(checkpoint_path(tmp_path), weights_only=True)
    payload["header"]["format_version"] = FORMAT_VERSION + 1
    torch.save(payload, checkpoint_path(tmp_path))
    with pytest.raises(ValueError, match=f"expected checkpoint format version {FORMAT_VERSION}, got "
                                         f"{FORMAT_VERSION + 1}"):
        train(LinearGaussianFlow(2), X, num_steps=5, checkpoint_dir=tmp_path, resume=True, progress_bar=False)


def test_resume_without_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"resume: expected a checkpoint at {tmp_path / 'checkpoint.pt'}, "
                                                   "got none")):
        train(LinearGaussianFlow(2), X, num_steps=5, checkpoint_dir=tmp_path, resume=True, progress_bar=False)
