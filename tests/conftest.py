"""Shared fixtures: both backends through one fixture, float64 everywhere (inside ``use_backend``)."""

import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")

BACKENDS = ("numpyro", "pyro")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test once on each backend."""
    return request.param
