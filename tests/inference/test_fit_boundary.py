"""``fit`` checks its counts at the boundary, and a NaN SVI loss is reported as NonFiniteLossError on NumPyro
even when the parameters themselves have become NaN (the site-finding helper must not raise)."""

import re

import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from numpyro import handlers
from numpyro.infer import autoguide

from pgm_ppl import dist, fit, pyro
from pgm_ppl.backend import use_backend
from pgm_ppl.inference import numpyro_engine

Y = np.random.default_rng(0).normal(1.0, 1.0, size=20)


def model(y):
    mu = pyro.sample("mu", dist.Normal(0.0, 10.0))
    with pyro.plate("data", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, 1.0), obs=y)


@pytest.mark.parametrize("argument, value, error, message", [
    ("num_chains", 0, ValueError, "num_chains: expected an integer >= 1, got 0."),
    ("num_samples", -5, ValueError, "num_samples: expected an integer >= 1, got -5."),
    ("num_warmup", -1, ValueError, "num_warmup: expected an integer >= 0, got -1."),
    ("num_steps", 0, ValueError, "num_steps: expected an integer >= 1, got 0."),
    ("num_chains", 2.0, TypeError, "num_chains: expected an integer, got 2.0 (float)."),
    ("num_samples", True, TypeError, "num_samples: expected an integer, got True (bool)."),
])
def test_counts_are_checked_at_fits_boundary(argument, value, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        fit(model, Y, progress_bar=False, **{argument: value})


def _nan_params_guide():
    """An auto_normal guide of ``model`` and parameters that an exploded Adam step left NaN."""
    with use_backend("numpyro"):
        y = jnp.asarray(Y)
        guide = autoguide.AutoNormal(model)
        params = handlers.trace(handlers.seed(guide, 0)).get_trace(y)
        params = {name: jnp.full_like(site["value"], jnp.nan) for name, site in params.items()
                  if site["type"] == "param"}
    return guide, params, y


def test_non_finite_site_does_not_raise_on_nan_scales():
    guide, params, y = _nan_params_guide()
    assert any("scale" in name for name in params)  # the guide's Normal gets a NaN scale
    with use_backend("numpyro"), numpyro.validation_enabled(True):
        site = numpyro_engine._non_finite_site(model, guide, params, (y,), {}, 0)
    assert site == "mu"  # named, not "Normal distribution got invalid scale parameter"


def test_non_finite_site_gives_none_when_the_search_itself_fails():
    def broken_guide(y):
        raise RuntimeError("a guide that cannot be traced")

    with use_backend("numpyro"):
        assert numpyro_engine._non_finite_site(model, broken_guide, {}, (jnp.asarray(Y),), {}, 0) is None
