"""``write_netcdf``: every group round-trips through ``arviz.from_netcdf``, compressed and chunked."""

import arviz as az
import h5py
import numpy as np

from pgm_ppl.diagnostics.convert import write_netcdf


def test_groups_round_trip_compressed_and_chunked(tmp_path):
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"w": rng.normal(size=(2, 50, 3))},
                         log_likelihood={"y": rng.normal(size=(2, 50, 20_000)).astype(np.float32)},
                         observed_data={"y": rng.normal(size=20_000)},
                         coords={"feature": ["a", "b", "c"]}, dims={"w": ["feature"]})
    idata.posterior.attrs["scale"] = "data"
    path = tmp_path / "run.nc"
    write_netcdf(idata, path, chunk_bytes=100_000)
    back = az.from_netcdf(str(path))
    assert set(back.groups()) == set(idata.groups())
    for group in idata.groups():
        for name, var in idata[group].data_vars.items():
            np.testing.assert_array_equal(back[group][name].values, var.values)  # lossless
            assert back[group][name].dtype == var.dtype
    assert list(back.posterior["feature"].values) == ["a", "b", "c"]
    assert back.posterior.attrs["scale"] == "data"
    with h5py.File(path) as handle:
        loglik = handle["log_likelihood/y"]
        assert loglik.compression == "gzip" and loglik.shuffle
        assert np.prod(loglik.chunks) * 4 <= 100_000  # written piece by piece, not as one 8 MB block
