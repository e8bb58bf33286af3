"""``save_plots``: a trace plot for chains, a loss curve (and no trace) for SVI's independent guide draws."""

import arviz as az
import numpy as np
import xarray as xr

from pgm_ppl.diagnostics import save_plots


def test_mcmc_gets_trace_and_posterior(tmp_path):
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"w": rng.normal(size=(2, 100, 2))}, coords={"feature": ["age", "bmi"]},
                         dims={"w": ["feature"]})
    assert [p.name for p in save_plots(idata, tmp_path)] == ["posterior.png", "trace.png"]


def test_svi_gets_loss_curve_and_no_trace(tmp_path):
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"mu": rng.normal(size=(1, 100))})
    idata.posterior.attrs["method"] = "svi"
    idata.add_groups(sample_stats=xr.Dataset({"loss": ("step", np.linspace(100.0, 1.0, 300))}))  # as convert does
    assert [p.name for p in save_plots(idata, tmp_path)] == ["loss.png", "posterior.png"]
