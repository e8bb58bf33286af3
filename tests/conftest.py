"""Shared fixtures: both backends through one fixture, float64 everywhere (inside ``use_backend``)."""

import os
import warnings

import matplotlib
import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one intra-op thread each, or torch's pools oversubscribe the machine.
    import torch

    torch.set_num_threads(1)

matplotlib.use("Agg")
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

BACKENDS = ("numpyro", "pyro")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test once on each backend."""
    return request.param
