"""Reading tables from CSV (with a header row), NPY, NPZ and NetCDF files, with errors that name the
file, row and column at fault. Nothing is unpickled (``allow_pickle=False``)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from pgm_ppl.data.table import DataError, DataTable

SUFFIXES = (".csv", ".npy", ".npz", ".nc")


def load_file(path: str | Path) -> DataTable:
    """Read a table from ``path``; the format follows the suffix (see :data:`SUFFIXES`).

    NPZ and NetCDF files hold named arrays: an array ``X`` (N, p) with an optional ``y`` (N,) is a table
    with a target; otherwise every 1-D array of one common length becomes a column (in file order),
    or a single 2-D array is the table.

    Raises
    ------
    DataError
        Missing file, unknown suffix, ragged or non-numeric CSV rows, NaN/inf values, empty data.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    readers = {".csv": _read_csv, ".npy": _read_npy, ".npz": _read_npz, ".nc": _read_netcdf}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; expected one of {', '.join(SUFFIXES)}.")
    return reader(path)


def _read_csv(path: Path) -> DataTable:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path} is empty: expected a header row and at least one data row.")
    header = tuple(cell.strip() for cell in rows[0])
    if len(rows) == 1:
        raise DataError(f"{path} has a header row but no data rows.")
    values = np.empty((len(rows) - 1, len(header)))
    for row_number, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise DataError(f"{path}, row {row_number}: {len(row)} cells, but the header has {len(header)} "
                            f"columns ({', '.join(header)}).")
        for col, cell in enumerate(row):
            try:
                values[row_number - 1, col] = float(cell)
            except ValueError:
                raise DataError(f"{path}, column {header[col]!r}, row {row_number}: expected a number, "
                                f"got {cell!r}.") from None
    return DataTable(str(path), values, header)


def _read_npy(path: Path) -> DataTable:
    values = _as_table(path, "array", _numeric(path, "array", np.load(path, allow_pickle=False)))
    return DataTable(str(path), values, _columns(values))


def _read_npz(path: Path) -> DataTable:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: _numeric(path, name, archive[name]) for name in archive.files}
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
