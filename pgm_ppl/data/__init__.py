"""Data: embedded datasets, file loaders (CSV, NPY/NPZ, NetCDF) and their validation, image datasets
(:mod:`pgm_ppl.data.images`: binarised and dequantised digits, MNIST IDX files). Text corpora live in
:mod:`pgm_ppl.data.text`."""

from __future__ import annotations

from pathlib import Path

from pgm_ppl.data.embedded import DATASETS, REAL_DATASETS, load_embedded
from pgm_ppl.data.files import SUFFIXES, check_readable, load_file
from pgm_ppl.data.images import (BINARIZATION_THRESHOLD, DIGITS_LEVELS, dequantize_digits, load_binarized_digits,
                                 load_idx)
from pgm_ppl.data.table import DataError, DataTable, DataWarning


def load_data(source: str | Path, *, seed: int = 0, num_samples: int = 1000) -> DataTable:
    """Load an embedded dataset by name (see :data:`DATASETS`) or a table from a file path.

    ``seed`` and ``num_samples`` apply to the generated datasets (moons, circles, ...).

    Examples
    --------
    >>> load_data("iris").values.shape
    (150, 4)
    """
    source = str(source)
    if source in DATASETS:
        return load_embedded(source, seed=seed, num_samples=num_samples)
    if Path(source).suffix.lower() in SUFFIXES or Path(source).exists():
        return load_file(source)
    return load_embedded(source)  # raises DataError listing the dataset names


__all__ = ["BINARIZATION_THRESHOLD", "DATASETS", "DIGITS_LEVELS", "REAL_DATASETS", "SUFFIXES", "DataError", "DataTable", "DataWarning",
           "check_readable", "dequantize_digits", "load_binarized_digits", "load_data", "load_embedded", "load_file",
           "load_idx"]
