"""``pgm-ppl train ddpm --data swiss_roll`` end to end (in process, through ``pgm_ppl.cli.main``): the run's held-out
NLL is the probability-flow likelihood (kind exact), its InferenceData reads back, and ``pgm-ppl sample`` draws
from the saved run."""

import json

import arviz as az
import numpy as np

from pgm_ppl.cli import main


def test_train_ddpm_on_the_swiss_roll(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = main(["train", "ddpm", "--data", "swiss_roll", "--num-data", "200", "--steps", "20", "--batch-size",
                   "64", "--set", "num_time_steps=20", "--set", "hidden_features=16", "--out", "ddpm"])
    assert status == 0
    metrics = json.loads((tmp_path / "ddpm" / "metrics.json").read_text())
    assert metrics["density_kind"] == "exact" and metrics["num_heldout_rows"] == 40
    assert np.isfinite(metrics["heldout_nll_nats_per_row"])
    idata = az.from_netcdf(tmp_path / "ddpm" / "inference_data.nc")
    assert idata.log_likelihood["x"].shape[-1] == 40
    assert main(["sample", "ddpm", "--num", "7", "--out", "draws.npy"]) == 0
    assert np.load(tmp_path / "draws.npy").shape == (7, 3)  # the embedded swiss roll is 3-D
