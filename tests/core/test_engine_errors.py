"""Engines fail in the model's terms: misspelt options are refused, non-finite losses name step and site."""

from __future__ import annotations

import re

import numpy as np
import pytest


def test_fit_refuses_kernel_options_with_svi():
    from pgm_ppl import dist, fit, pyro

    def model(y):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with pyro.plate("data", len(y)):
            pyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    message = ("kernel_options: NUTS/HMC kernel options only apply to method='nuts'/'hmc'; "
               "got {'target_accept_prob'} with method='svi'.")
    with pytest.raises(TypeError, match=re.escape(message)):
        fit(model, np.zeros(3), method="svi", num_steps=2, target_accept_prob=0.9)


def test_streaming_svi_names_the_step_and_site_of_a_non_finite_loss():
    import pyro
    import pyro.distributions as dist
    import torch

    from pgm_ppl.inference.errors import NonFiniteLossError
    from pgm_ppl.inference.svi_streaming import data_plate, run_streaming_svi

    def model(batch, num_data):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with data_plate("data", batch, num_data):
            pyro.sample("y", dist.Normal(mu, 1.0), obs=batch[:, 0])

    def guide(batch, num_data):
        pyro.sample("mu", dist.Normal(pyro.param("loc", torch.tensor(0.0)), 1.0))

    data = np.zeros((8, 1))
    data[5, 0] = np.inf
    with pytest.raises(NonFiniteLossError, match=re.escape("at step 1: the log-density of site 'y'")):
        run_streaming_svi(model, guide, data, batch_size=8, num_epochs=1)


def test_streaming_svi_leaves_the_callers_random_state_alone():
    import pyro.distributions as dist
    import torch
    import pyro

    from pgm_ppl.inference.svi_streaming import data_plate, run_streaming_svi

    def model(batch, num_data):
        mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
        with data_plate("data", batch, num_data):
            pyro.sample("y", dist.Normal(mu, 1.0), obs=batch[:, 0])

    def guide(batch, num_data):
        pyro.sample("mu", dist.Normal(pyro.param("loc", torch.tensor(0.0)), 1.0))

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run_streaming_svi(model, guide, np.ones((8, 1)), batch_size=4, num_epochs=1, seed=7)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
