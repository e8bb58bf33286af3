"""Loaders and embedded datasets: the same table from every file format, seeded generators."""

import numpy as np
import pytest
import xarray as xr

from pgm_ppl.data import DATASETS, DataError, load_data

TABLE = np.array([[1.0, 2.0, 0.5], [3.0, 4.0, -1.5], [5.0, 6.0, 2.5]])


@pytest.mark.parametrize("suffix", [".csv", ".npy", ".npz", ".nc"])
def test_every_format_gives_the_same_table(tmp_path, suffix):
    path = tmp_path / f"table{suffix}"
    if suffix == ".csv":
        path.write_text("a,b,c\n" + "\n".join(",".join(str(float(v)) for v in row) for row in TABLE) + "\n")
    elif suffix == ".npy":
        np.save(path, TABLE)
    elif suffix == ".npz":
        np.savez(path, X=TABLE[:, :2], y=TABLE[:, 2])
    else:
        xr.Dataset({"a": ("row", TABLE[:, 0]), "b": ("row", TABLE[:, 1]), "c": ("row", TABLE[:, 2])}).to_netcdf(path)
    table = load_data(path)
    if suffix == ".npz":
        np.testing.assert_array_equal(table.values, TABLE[:, :2])
        np.testing.assert_array_equal(table.target, TABLE[:, 2])
    else:
        np.testing.assert_array_equal(table.values, TABLE)
    if suffix in (".csv", ".nc"):
        assert table.columns == ("a", "b", "c")


def test_pickled_arrays_are_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Object arrays cannot be loaded when allow_pickle=False"):
        load_data(tmp_path / "objects.npy")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_embedded_datasets_load_finite_and_seeded(name):
    first, again = load_data(name, seed=3, num_samples=200), load_data(name, seed=3, num_samples=200)
    assert np.isfinite(first.values).all() and first.values.ndim == 2
    np.testing.assert_array_equal(first.values, again.values)


def test_real_datasets_are_sklearns():
    from sklearn.datasets import load_iris

    np.testing.assert_array_equal(load_data("iris").values, load_iris().data)
    assert load_data("iris").columns[0] == "sepal length (cm)"


def test_generators_depend_on_the_seed_and_have_their_shape():
    assert load_data("moons", seed=0).values.shape == (1000, 2)
    assert load_data("swiss_roll", num_samples=50).values.shape == (50, 3)
    assert not np.array_equal(load_data("moons", seed=0).values, load_data("moons", seed=1).values)
    eight = load_data("8gaussians", num_samples=4000).values
    np.testing.assert_allclose(np.linalg.norm(eight, axis=1).mean(), 2.0, atol=0.01)
    board = load_data("checkerboard", num_samples=4000).values
    squares = (np.floor(board[:, 0] / 2) + np.floor(board[:, 1] / 2)) % 2
    assert np.all(squares == squares[0])  # every point on squares of one colour


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(DataError, match="Unknown dataset 'mnist': choose one of iris, wine, digits"):
        load_data("mnist")
