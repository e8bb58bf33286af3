"""pgm_ppl.data.images: the binarised digits split, dequantisation and the IDX reader."""

import gzip

import numpy as np
import pytest
from sklearn.datasets import load_digits

from pgm_ppl.data.images import dequantize_digits, load_binarized_digits, load_idx
from pgm_ppl.data.table import DataError


def test_binarized_digits_split_is_a_stratified_partition_of_the_thresholded_pixels():
    X_train, X_test, y_train, y_test = load_binarized_digits()
    digits = load_digits()
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert X_train.dtype == np.float64 and set(np.unique(X_train)) == {0.0, 1.0}
    # the union of the two parts is the whole thresholded dataset (as multisets of (image, label) rows)
    ours = np.concatenate([np.column_stack([X_train, y_train]), np.column_stack([X_test, y_test])])
    ref = np.column_stack([(digits.data > 8).astype(float), digits.target])
    assert np.array_equal(np.unique(ours, axis=0, return_counts=True)[1].sum(), len(ref))
    assert sorted(map(tuple, ours)) == sorted(map(tuple, ref))
    # stratified: class shares in the test part within one image of the whole's
    counts = np.bincount(digits.target, minlength=10)
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - 0.2 * counts) <= 1.0)


def test_binarized_digits_seeded_and_threshold():
    a = load_binarized_digits(seed=3)
    b = load_binarized_digits(seed=3)
    c = load_binarized_digits(seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[2], c[2]) or not np.array_equal(a[0], c[0])
    low = load_binarized_digits(threshold=0.0)[0]
    assert low.mean() > a[0].mean()


@pytest.mark.parametrize("kwargs, error", [({"threshold": 16}, ValueError), ({"threshold": "8"}, TypeError),
                                           ({"test_fraction": 1.0}, ValueError), ({"seed": -1}, TypeError)])
def test_binarized_digits_bad_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        load_binarized_digits(**kwargs)


def test_dequantize_digits_cells_and_jacobian():
    Y_train, Y_test, y_train, y_test, log_jacobian = dequantize_digits()
    X_train, X_test, yb_train, _ = load_binarized_digits()
    assert np.array_equal(y_train, yb_train)
    assert Y_train.min() >= 0 and Y_train.max() < 1
    # floor(17 y) recovers the integer pixels, which threshold to the binarised split
    k = np.floor(17 * Y_train)
    assert np.array_equal((k > 8).astype(float), X_train)
    assert log_jacobian == pytest.approx(-64 * np.log(17), abs=1e-12)
    # a uniform density on [0,1)^64 (log p = 0) gives, with the constant, the uniform law on 17^64 cells
    assert 0.0 + log_jacobian == pytest.approx(-64 * np.log(17))


def _idx(shape, values, code=0x08, dtype=">u1"):
    header = bytes([0, 0, code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()
    return header + np.asarray(values, dtype=dtype).tobytes()


def test_load_idx_roundtrip_plain_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "img-idx3-ubyte").write_bytes(_idx(images.shape, images))
    (tmp_path / "img-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images.shape, images)))
    floats = np.array([1.5, -2.25])
    (tmp_path / "f.idx").write_bytes(_idx((2,), floats, code=0x0E, dtype=">f8"))
    assert np.array_equal(load_idx(tmp_path / "img-idx3-ubyte"), images)
    assert np.array_equal(load_idx(tmp_path / "img-idx3-ubyte.gz"), images)
    got = load_idx(tmp_path / "f.idx")
    assert got.dtype == np.float64 and np.array_equal(got, floats)


@pytest.mark.parametrize("raw, match", [(b"", "not an IDX"), (b"PK\x03\x04rest", "not an IDX"),
                                        (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]), "type code"),
                                        (bytes([0, 0, 8, 2, 0, 0, 0]), "truncated header"),
                                        (bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]), "truncated"),
                                        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 1, 2]), "longer"),
                                        (b"\x1f\x8b garbage", "gzip")])
def test_load_idx_bad_files(tmp_path, raw, match):
    path = tmp_path / "bad"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=match):
        load_idx(path)
    with pytest.raises(DataError, match="no such file"):
        load_idx(tmp_path / "missing")


def test_binarized_digits_dataset_name_is_the_thresholded_digits():
    import pgm_ppl.data as data

    table = data.load_data("binarized_digits")
    digits = load_digits()
    np.testing.assert_array_equal(table.values, (digits.data > data.BINARIZATION_THRESHOLD).astype(float))
    np.testing.assert_array_equal(table.target, digits.target)
    assert "binarized_digits" in data.DATASETS and data.BINARIZATION_THRESHOLD == 8.0
    # the image loaders are exported by the package itself
    assert data.load_binarized_digits is load_binarized_digits and data.load_idx is load_idx
    assert data.dequantize_digits is dequantize_digits
