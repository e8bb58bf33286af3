"""The contract every zoo model meets, on both backends: it runs through ``fit``, its prior predictive
has the data's shape, its pointwise log-likelihood is finite, and it converts to InferenceData."""

import numpy as np
import pytest

from pgm_ppl import fit, load_data
from pgm_ppl.models import ZOO


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_contract(name, backend):
    entry = ZOO[name]
    inputs = entry.prepare(load_data(entry.default_data))
    result = fit(entry.model, inputs, method="svi", backend=backend, num_steps=30, num_samples=20,
                 num_prior_samples=10, model_kwargs=entry.options, progress_bar=False, seed=0)
    observed = {site: value.shape for site, value in result.observed_data.items()}
    assert observed, "a zoo model observes its data"
    for site, shape in observed.items():
        assert result.prior_predictive[site].shape == (1, 10) + shape
        assert result.posterior_predictive[site].shape == (1, 20) + shape
        assert np.isfinite(result.log_likelihood[site]).all()
    idata = result.to_inference_data()
    assert {"posterior", "log_likelihood", "prior_predictive", "observed_data"} <= set(idata.groups())
