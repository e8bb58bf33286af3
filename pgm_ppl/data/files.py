"""Reading tables from CSV, NPY, NPZ and NetCDF files, with errors that name the file, row and column at
fault and what to do. Nothing is unpickled (``allow_pickle=False``).

CSV files are decoded from UTF-8 (with or without a byte-order mark), UTF-16/UTF-32 (with a byte-order
mark, or UTF-16 recognised by its zero bytes) or, when they are not valid UTF-8, Latin-1; the delimiter is
detected (comma, semicolon, tab or bar) and a first row made only of numbers is data, not a header. Each such
guess is reported as a :class:`DataWarning`.
"""

from __future__ import annotations

import codecs
import csv
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from pgm_ppl.data.table import DataError, DataTable, DataWarning

SUFFIXES = (".csv", ".npy", ".npz", ".nc")


def load_file(path: str | Path) -> DataTable:
    """Read a table from ``path``; the format follows the suffix (see :data:`SUFFIXES`).

    NPZ and NetCDF files hold named arrays: an array ``X`` (N, p) with an optional ``y`` (N,) is a table
    with a target; otherwise every 1-D array of one common length becomes a column (in file order),
    or a single 2-D array is the table.

    Raises
    ------
    DataError
        Missing, unreadable or directory path, unknown suffix, undecodable text, truncated or pickled
        arrays, complex or non-numeric values, ragged or non-numeric CSV rows, NaN/inf values, empty data.

    Warns
    -----
    DataWarning
        When a CSV file was read with a guess: its encoding (not UTF-8), its delimiter (not a comma), or its
        first row taken as data because every cell is a number.
    """
    path = Path(path)
    check_readable(path)
    readers = {".csv": _read_csv, ".npy": _read_npy, ".npz": _read_npz, ".nc": _read_netcdf}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; expected one of {', '.join(SUFFIXES)}.")
    try:
        return reader(path)
    except OSError as error:  # a read that fails half-way (permissions changed, I/O error)
        raise DataError(f"{path}: cannot be read ({error.strerror or error}).") from error


def check_readable(path: str | Path) -> None:
    """Raise a :class:`DataError` naming ``path`` unless it is an existing, readable regular file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file; give a {'/'.join(SUFFIXES)} file inside it.")
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file; give a {'/'.join(SUFFIXES)} file.")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied; make the file readable (chmod u+r) or copy it.")


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


def _decode(path: Path, raw: bytes) -> str:
    """The text of a CSV file: from its byte-order mark, else UTF-8, else UTF-16 by its zero bytes, else
    Latin-1 (with a DataWarning)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise DataError(f"{path}: starts with a {encoding.upper()} byte-order mark but is not valid "
                                f"{encoding.upper()} ({error.reason} at byte {error.start}); save it again "
                                "as UTF-8 CSV.") from error
    head = raw[:4096]
    if b"\0" not in head:  # UTF-8 text never holds a zero byte; UTF-16 text is full of them
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            utf8_error = error
    else:
        zeros_odd, zeros_even = head[1::2].count(0), head[0::2].count(0)
        encoding = "utf-16-le" if zeros_odd > zeros_even else "utf-16-be"
        if max(zeros_odd, zeros_even) >= len(head) // 4:
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                pass
            else:
                warnings.warn(f"{path}: read as {encoding.upper()} text without a byte-order mark.",
                              DataWarning, stacklevel=4)
                return text
        raise DataError(f"{path}: is a binary file, not CSV text (zero bytes at position {head.index(0)}); give a "
                        "CSV text file, saved as UTF-8, or an .npy/.npz/.nc array file.")
    warnings.warn(f"{path}: not valid UTF-8 (byte 0x{raw[utf8_error.start]:02x} at position {utf8_error.start}); "
                  "read as Latin-1. Save it as UTF-8 to silence this.", DataWarning, stacklevel=4)
    return raw.decode("latin-1")


def _delimiter(path: Path, text: str) -> str:
    """The delimiter csv.Sniffer finds among comma, semicolon, tab and bar; a comma when it finds none."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        delimiter = ","
    if delimiter == "," and "," not in sample:
        found = [d for d in _DELIMITERS if d != "," and d in sample]
        if found:  # the Sniffer gave up, but a delimiter is there
            delimiter = max(found, key=sample.count)
    if delimiter != ",":
        warnings.warn(f"{path}: read as {_DELIMITERS[delimiter]}-separated values (delimiter {delimiter!r}; "
                      "a comma inside a number is its decimal point).",
                      DataWarning, stacklevel=4)
    return delimiter


def _is_number(cell: str, decimal_comma: bool) -> bool:
    try:
        _number(cell, decimal_comma)
    except ValueError:
        return False
    return True


def _number(cell: str, decimal_comma: bool) -> float:
    try:
        return float(cell)
    except ValueError:
        if decimal_comma and cell.count(",") == 1:  # 1,5 in a semicolon-separated file is 1.5
            return float(cell.replace(",", "."))
        raise


def _read_csv(path: Path) -> DataTable:
    text = _decode(path, path.read_bytes())
    delimiter = _delimiter(path, text)
    decimal_comma = delimiter != ","
    how = "" if delimiter == "," else f" (read as {_DELIMITERS[delimiter]}-separated)"
    rows = [row for row in csv.reader(text.splitlines(), delimiter=delimiter) if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path} is empty: expected a header row and at least one data row.")
    if all(cell.strip() and _is_number(cell, decimal_comma) for cell in rows[0]):
        header = tuple(f"x{i}" for i in range(len(rows[0])))
        data_rows, first = rows, 1
        warnings.warn(f"{path}: the first row ({delimiter.join(rows[0])}) is all numbers, so it is read as data, "
                      f"not as a header; the columns are named {', '.join(header)}.", DataWarning, stacklevel=3)
    else:
        header = tuple(cell.strip() for cell in rows[0])
        data_rows, first = rows[1:], 1
        if not data_rows:
            raise DataError(f"{path} has a header row but no data rows.")
    values = np.empty((len(data_rows), len(header)))
    for row_number, row in enumerate(data_rows, start=first):
        if len(row) != len(header):
            raise DataError(f"{path}, row {row_number}: {len(row)} cells, but the header has {len(header)} "
                            f"columns ({', '.join(header)}){how}.")
        for col, cell in enumerate(row):
            try:
                values[row_number - first, col] = _number(cell, decimal_comma)
            except ValueError:
                raise DataError(f"{path}, column {header[col]!r}, row {row_number}: expected a number, "
                                f"got {cell!r}{how}.") from None
    return DataTable(str(path), values, header)


def _load_numpy(path: Path, handle):
    """np.load of the open file ``handle`` without unpickling, every failure a DataError naming the file."""
    try:
        return np.load(handle, allow_pickle=False)
    except ValueError as error:
        text = str(error).rstrip(".") + "."
        if "allow_pickle" in text or "pickled" in text:
            raise DataError(f"{path}: holds pickled Python objects, which pgm_ppl never loads (unpickling can "
                            f"run arbitrary code): {text} Save a numeric array with numpy.save instead.") from error
        raise DataError(f"{path}: not a complete NumPy array file ({text}); it may be truncated: write it "
                        "again.") from error
    except (EOFError, zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{path}: not a readable {path.suffix.lower()} file ({error}); it may be truncated "
                        "or of another format: write it again.") from error


def _member(path: Path, archive, name: str) -> np.ndarray:
    try:
        return archive[name]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(f"{path}, array {name!r}: holds Python objects, which pgm_ppl never unpickles "
                            f"({error}); save numeric arrays with numpy.savez instead.") from error
        raise DataError(f"{path}, array {name!r}: not readable ({error}); the file may be truncated.") from error
    except (EOFError, zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{path}, array {name!r}: not readable ({error}); the file may be truncated.") from error


def _read_npy(path: Path) -> DataTable:
    with path.open("rb") as handle:
        array = _load_numpy(path, handle)
        if isinstance(array, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: is an .npz archive named .npy; rename it to .npz.")
    values = _as_table(path, "array", _numeric(path, "array", array))
    return DataTable(str(path), values, _columns(values))


def _read_npz(path: Path) -> DataTable:
    with path.open("rb") as handle:
        archive = _load_numpy(path, handle)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: is a single .npy array named .npz; rename it to .npy.")
        with archive:
            arrays = {name: _numeric(path, name, _member(path, archive, name)) for name in archive.files}
    return _from_arrays(path, arrays)


def _read_netcdf(path: Path) -> DataTable:
    import xarray as xr

    try:
        with xr.open_dataset(path) as dataset:
            arrays = {str(name): _numeric(path, str(name), dataset[name].values) for name in dataset.data_vars}
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable NetCDF file ({error}).") from error
    return _from_arrays(path, arrays)


def _from_arrays(path: Path, arrays: dict[str, np.ndarray]) -> DataTable:
    if not arrays:
        raise DataError(f"{path} holds no arrays.")
    if "X" in arrays:
        values = _as_table(path, "X", arrays["X"])
        target = arrays.get("y")
        return DataTable(str(path), values, _columns(values), None if target is None else target.reshape(-1),
                         None if target is None else "y")
    if len(arrays) == 1:
        name, array = next(iter(arrays.items()))
        values = _as_table(path, name, array)
        return DataTable(str(path), values, _columns(values) if array.ndim == 2 else (name,))
    lengths = {name: array.shape for name, array in arrays.items()}
    if any(len(shape) != 1 for shape in lengths.values()) or len({s[0] for s in lengths.values()}) != 1:
        raise DataError(f"{path}: expected an array 'X' (with optional 'y'), one array, or 1-D arrays of one "
                        f"common length; got {lengths}.")
    return DataTable(str(path), np.column_stack(list(arrays.values())).astype(float), tuple(arrays))


def _numeric(path: Path, name: str, array: np.ndarray) -> np.ndarray:
    if np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(f"{path}, array {name!r}: expected real numbers, got dtype {array.dtype}; save the real "
                        "part, the modulus or both parts as separate columns.")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataError(f"{path}, array {name!r}: expected numbers, got dtype {array.dtype}.")
    return np.asarray(array, dtype=float)


def _as_table(path: Path, name: str, array: np.ndarray) -> np.ndarray:
    if array.ndim == 1:
        return array[:, None]
    if array.ndim != 2:
        raise DataError(f"{path}, array {name!r}: expected 1 or 2 dimensions, got shape {array.shape}.")
    return array


def _columns(values: np.ndarray) -> tuple[str, ...]:
    return tuple(f"x{i}" for i in range(values.shape[1]))
