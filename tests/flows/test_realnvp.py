"""realnvp: the initial weights are a function of its seed alone; the README's train(realnvp(2), X, seed=0)
is reproducible and leaves the caller's torch generator alone."""

import numpy as np
import pytest
import torch

from pgm_ppl.flows import realnvp
from pgm_ppl.training import train

torch.set_num_threads(1)


def _weights(flow):
    return {name: value.detach().clone() for name, value in flow.state_dict().items()}


def test_the_same_seed_builds_the_same_flow_without_touching_the_global_generator():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, second = _weights(realnvp(2)), _weights(realnvp(2))
    assert torch.equal(torch.get_rng_state(), before)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    other = _weights(realnvp(2, seed=1))
    assert any(not torch.equal(first[name], other[name]) for name in first)
    with pytest.raises(ValueError, match="seed: expected an integer >= 0, got -1."):
        realnvp(2, seed=-1)


def test_the_readme_example_is_reproducible():
    X = np.random.default_rng(0).normal(size=(256, 2))
    torch.manual_seed(1)  # a caller's generator in some state...
    first = train(realnvp(2), X, num_steps=5, batch_size=128, seed=0, num_generated=0, progress_bar=False)
    torch.manual_seed(2)  # ...and in another: the same run
    second = train(realnvp(2), X, num_steps=5, batch_size=128, seed=0, num_generated=0, progress_bar=False)
    assert np.array_equal(first.losses, second.losses)
