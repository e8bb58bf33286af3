"""The tabular data container every loader returns, and its validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DataError(ValueError):
    """Bad input data: the message names the file, row, column or array at fault."""


class DataWarning(UserWarning):
    """A file was read with a guess (encoding, delimiter, no header row): the message says which."""


@dataclass(frozen=True)
class DataTable:
    """A numeric table: ``values`` of shape (N, p) with named columns, and an optional target.

    Attributes
    ----------
    name
        Where the data came from (a dataset name or a file path).
    values
        float64 array, shape (N, p).
    columns
        The p column names.
    target
        Labels or responses, shape (N,), when the source has them (sklearn's datasets, an "y" array).
    target_name
        The target's name.
    """

    name: str
    values: np.ndarray
    columns: tuple[str, ...]
    target: np.ndarray | None = None
    target_name: str | None = None

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise DataError(f"{self.name}: expected a table (2-D array), got shape {self.values.shape}.")
        if self.values.shape[0] == 0 or self.values.shape[1] == 0:
            raise DataError(f"{self.name} is empty (shape {self.values.shape}).")
        if len(self.columns) != self.values.shape[1]:
            raise DataError(f"{self.name}: {len(self.columns)} column names for {self.values.shape[1]} columns.")
        _check_finite(self.name, self.values, self.columns)
        if self.target is not None:
            if self.target.shape != (self.values.shape[0],):
                raise DataError(f"{self.name}: target {self.target_name!r} has shape {self.target.shape}, "
                                f"expected ({self.values.shape[0]},) to match the {self.values.shape[0]} rows.")
            _check_finite(self.name, self.target[:, None].astype(float), (self.target_name or "target",))

    @property
    def num_rows(self) -> int:
        """Number of rows N."""
        return self.values.shape[0]


def _check_finite(name: str, values: np.ndarray, columns: tuple[str, ...]) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        raise DataError(f"{name}, column {columns[col]!r}, row {row + 1}: value {values[row, col]} is not finite "
                        f"({len(bad)} such value(s) in all). Remove or impute them first.")
