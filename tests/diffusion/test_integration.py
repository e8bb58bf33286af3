"""A trained DDPM is a Trainable of the one engine: it trains on the swiss roll, converts to ArviZ, and enters the
held-out comparison table with its probability-flow likelihood (kind 'exact')."""

import numpy as np
import pytest

from pgm_ppl.data import load_data
from pgm_ppl.diagnostics import compare_heldout, to_inference_data
from pgm_ppl.diffusion import ddpm
from pgm_ppl.em import fit_gmm
from pgm_ppl.em.density import GaussianMixtureDensity
from pgm_ppl.training import train


@pytest.fixture(scope="module")
def fitted():
    X = load_data("swiss_roll", num_samples=700, seed=0).values[:, [0, 2]] / 5.0
    train_rows, test_rows = X[:600], X[600:]
    model = ddpm(2, num_time_steps=100, hidden_features=32, seed=0)
    fit = train(model, train_rows, num_steps=150, batch_size=128, learning_rate=3e-3, num_generated=50,
                validation_data=test_rows[:20], validate_every=150, seed=0)
    return fit, train_rows, test_rows


def test_fit_converts_to_inference_data(fitted):
    fit, _, _ = fitted
    idata = to_inference_data(fit)
    assert idata.posterior_predictive.attrs["density_kind"] == "exact"
    assert idata.posterior_predictive["x"].shape[-2:] == (50, 2)
    assert np.all(np.isfinite(idata.log_likelihood["x"].values))


def test_ddpm_enters_the_heldout_comparison(fitted):
    fit, train_rows, test_rows = fitted
    gmm = GaussianMixtureDensity(fit_gmm(train_rows, num_components=8, seed=0).params)
    table = compare_heldout({"ddpm": fit, "gmm": gmm}, test_rows[:40])
    assert set(table.index) == {"ddpm", "gmm"}
    assert table.loc["ddpm", "kind"] == "exact"
    assert np.isfinite(table.loc["ddpm", "elpd"])
