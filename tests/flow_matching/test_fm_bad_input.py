"""Flow matching as a new user meets it: paths, couplings and the model's sampling options checked at the door,
each error naming the argument, what was expected and what was received."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgm_ppl.diffusion import ddpm
from pgm_ppl.flow_matching import (BrownianBridgePath, LinearPath, LipmanOTPath, SinkhornCoupling,
                                   VariancePreservingPath, i_cfm)

PATHS = [LinearPath(0.1), LinearPath(0.0), LipmanOTPath(0.1), BrownianBridgePath(0.5), VariancePreservingPath(0.1)]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: type(p).__name__)
def test_paths_name_the_mismatched_argument(path):
    x0, x1, t = torch.zeros(4, 2), torch.ones(4, 2), torch.full((4,), 0.5)
    with pytest.raises(ValueError, match=r"x1: expected the shape of x0, \(4, 2\), got \(3, 2\)"):
        path.sample_and_target(t, x0, x1[:3])
    # the arguments in the wrong order (x0 first): the time is the culprit, and the message says the order
    with pytest.raises(ValueError, match=r"t: expected a scalar or one time per row, shape \(4,\), got shape "
                                         r"\(4, 2\) \(the paths take \(t, x0, x1\) in that order\)"):
        path.sample_and_target(x0, x1, x1)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: type(p).__name__)
def test_a_scalar_time_a_column_of_times_and_one_time_per_row_agree(path):
    generator = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    noise = torch.randn(5, 3, generator=generator)
    for t in (0.3, torch.tensor([0.3]), torch.full((5,), 0.3), torch.full((5, 1), 0.3)):
        torch.testing.assert_close(path.sample(t, x0, x1, noise), path.sample(0.3, x0, x1, noise))
        torch.testing.assert_close(path.target(t, x0, x1, noise), path.target(0.3, x0, x1, noise))


def test_sinkhorn_coupling_checks_its_iteration_cap():
    with pytest.raises(ValueError, match="max_iter: expected an integer >= 1, got 0"):
        SinkhornCoupling(0.1, max_iter=0)


@pytest.fixture(scope="module")
def model():
    return i_cfm(2, hidden_features=(8, 8), seed=0)


def test_trajectory_times_outside_the_unit_interval_are_refused(model):
    with pytest.raises(ValueError, match=r"times: expected times in \[0, 1\] .*got values in \[-1, 0.5\]"):
        model.trajectory([-1.0, 0.5], num_samples=3)
    with pytest.raises(ValueError, match=r"got values in \[0, 2\]"):
        model.trajectory([0.0, 2.0], num_samples=3)
    assert model.trajectory([0.0, 0.5, 1.0], num_samples=3, solver="euler", num_steps=4).shape == (3, 3, 2)


def test_labels_given_to_an_unconditional_model_are_refused(model):
    with pytest.raises(ValueError, match=r"labels: expected None for an unconditional model \(num_classes=None\)"):
        model.sample(3, labels=torch.zeros(3, dtype=torch.long))


def test_source_rows_of_the_wrong_shape_name_x0(model):
    with pytest.raises(ValueError, match=r"x0: expected shape \(n, 2\), got \(3, 5\)"):
        model.sample(3, x0=np.zeros((3, 5)))


def test_log_prob_of_float64_arrays_matches_float32_tensors_for_every_continuous_model(model):
    x = np.random.default_rng(0).normal(size=(4, 2))
    diffusion = ddpm(2, num_time_steps=10, hidden_features=8, time_features=4)
    for density in (model, diffusion):
        reference = density.log_prob(torch.as_tensor(x, dtype=torch.float32))
        torch.testing.assert_close(density.log_prob(x), reference, rtol=1e-4, atol=1e-4)
        with pytest.raises(ValueError, match=r"x: expected shape \(n, 2\), got \(4,\)"):
            density.log_prob(x[:, 0])
