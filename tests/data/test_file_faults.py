"""Files as users have them (issue 18, item 8): other encodings and delimiters, no header row, truncated,
pickled, object and complex arrays, directories and unreadable files. Each is read correctly (with a
DataWarning saying what was guessed) or refused with a DataError naming the file and the fix."""

import os
import pickle

import numpy as np
import pytest

from pgm_ppl.data import DataError, DataWarning, load_data

TABLE = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 5.0]])
TEXT = "Größe,y\n1,2\n2,3\n3,5\n"


def _load_quietly(path):
    with pytest.warns(DataWarning) as caught:
        table = load_data(path)
    return table, " ".join(str(w.message) for w in caught)


def test_latin1_csv_is_read_and_the_encoding_named(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(TEXT.encode("latin-1"))
    table, note = _load_quietly(path)
    np.testing.assert_array_equal(table.values, TABLE)
    assert table.columns == ("Größe", "y")
    assert "latin.csv: not valid UTF-8 (byte 0xf6 at position 2); read as Latin-1" in note


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_csv_with_a_byte_order_mark_is_decoded(tmp_path, encoding):
    path = tmp_path / "bom.csv"
    path.write_bytes(TEXT.encode(encoding))
    table = load_data(path)
    np.testing.assert_array_equal(table.values, TABLE)
    assert table.columns == ("Größe", "y")


def test_utf16_without_a_byte_order_mark_is_recognised(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes(TEXT.encode("utf-16-le"))
    table, note = _load_quietly(path)
    np.testing.assert_array_equal(table.values, TABLE)
    assert "u16.csv: read as UTF-16-LE text" in note


def test_binary_file_named_csv_is_refused(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"image.csv: is a binary file, not CSV text"):
        load_data(path)


@pytest.mark.parametrize("delimiter, name", [(";", "semicolon"), ("\t", "tab"), ("|", "bar")])
def test_delimiter_is_detected_and_said(tmp_path, delimiter, name):
    path = tmp_path / "table.csv"
    path.write_text("\n".join(delimiter.join(row) for row in [["a", "b", "y"], ["1", "2", "3"], ["4", "5", "6"],
                                                                ["7", "8", "10"]]) + "\n")
    table, note = _load_quietly(path)
    assert table.columns == ("a", "b", "y")
    np.testing.assert_array_equal(table.values, [[1, 2, 3], [4, 5, 6], [7, 8, 10]])
    assert f"table.csv: read as {name}-separated values" in note


def test_semicolon_csv_with_decimal_commas(tmp_path):
    path = tmp_path / "euro.csv"
    path.write_text("dose;y\n1,5;2\n2,25;3\n3;4,75\n")
    table, _ = _load_quietly(path)
    np.testing.assert_array_equal(table.values, [[1.5, 2.0], [2.25, 3.0], [3.0, 4.75]])


def test_bad_cell_in_a_semicolon_file_says_how_it_was_read(tmp_path):
    path = tmp_path / "euro.csv"
    path.write_text("dose;y\n1;2\nn/a;3\n")
    with pytest.warns(DataWarning), pytest.raises(
            DataError, match=r"euro.csv, column 'dose', row 2: expected a number, got 'n/a' "
                             r"\(read as semicolon-separated\)\."):
        load_data(path)


def test_header_less_csv_keeps_its_first_row(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("1.0,2.0,3.1\n2,3,4\n3,1,2\n4,5,7\n5,5,5\n")
    table, note = _load_quietly(path)
    assert table.num_rows == 5
    np.testing.assert_array_equal(table.values[0], [1.0, 2.0, 3.1])
    assert table.columns == ("x0", "x1", "x2")
    assert "raw.csv: the first row (1.0,2.0,3.1) is all numbers, so it is read as data" in note


def test_header_with_names_is_still_a_header(tmp_path):
    path = tmp_path / "named.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    assert load_data(path).num_rows == 2


def test_truncated_npy_names_the_file(tmp_path):
    np.save(tmp_path / "full.npy", np.arange(100.0).reshape(20, 5))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:300])
    with pytest.raises(DataError, match=r"cut.npy: not a complete NumPy array file .*could only read 21 elements"
                                        r".*it may be truncated"):
        load_data(tmp_path / "cut.npy")
    (tmp_path / "header.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:50])
    with pytest.raises(DataError, match=r"header.npy: not a complete NumPy array file"):
        load_data(tmp_path / "header.npy")


def test_truncated_npz_names_the_file(tmp_path):
    np.savez(tmp_path / "full.npz", X=np.ones((30, 2)), y=np.ones(30))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "full.npz").read_bytes()[:200])
    with pytest.raises(DataError, match=r"cut.npz: not a readable .npz file .*truncated"):
        load_data(tmp_path / "cut.npz")


def test_object_and_pickled_files_are_never_unpickled(tmp_path, monkeypatch):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with open(tmp_path / "pickled.npy", "wb") as handle:
        pickle.dump([1.0, 2.0], handle)
    np.savez(tmp_path / "objects.npz", X=np.array([{"a": 1}], dtype=object))

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle.load was called")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    with pytest.raises(DataError, match=r"objects.npy: holds pickled Python objects, which pgm_ppl never loads"):
        load_data(tmp_path / "objects.npy")
    with pytest.raises(DataError, match=r"pickled.npy: holds pickled Python objects"):
        load_data(tmp_path / "pickled.npy")
    with pytest.raises(DataError, match=r"objects.npz, array 'X': holds Python objects"):
        load_data(tmp_path / "objects.npz")


def test_complex_arrays_are_refused_not_cast(tmp_path):
    np.save(tmp_path / "complex.npy", np.ones((4, 2)) + 1j)
    with pytest.raises(DataError, match=r"complex.npy, array 'array': expected real numbers, got dtype complex128"):
        load_data(tmp_path / "complex.npy")
    np.savez(tmp_path / "complex.npz", X=np.ones((4, 2)), y=np.ones(4) * 1j)
    with pytest.raises(DataError, match=r"complex.npz, array 'y': expected real numbers"):
        load_data(tmp_path / "complex.npz")


def test_directory_is_not_reported_as_missing(tmp_path):
    (tmp_path / "runs.csv").mkdir()
    with pytest.raises(DataError, match=r"runs.csv: is a directory, not a data file; give a "
                                        r"\.csv/\.npy/\.npz/\.nc file inside it\."):
        load_data(tmp_path / "runs.csv")
    with pytest.raises(DataError, match=r": is a directory"):
        load_data(tmp_path)


def test_unreadable_file_is_named(tmp_path, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_text("a,y\n1,2\n3,4\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(path) else real_access(p, mode))
    with pytest.raises(DataError, match=r"secret.csv: permission denied; make the file readable"):
        load_data(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_by_mode(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("a,y\n1,2\n3,4\n")
    path.chmod(0)
    with pytest.raises(DataError, match=r"secret.csv: permission denied"):
        load_data(path)
