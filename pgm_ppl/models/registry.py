"""The model zoo as the command line sees it: each model with its default data and how a table
becomes the model's arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pgm_ppl.data import DataError, DataTable
from pgm_ppl.models.factor_analysis import factor_analysis
from pgm_ppl.models.gmm import gaussian_mixture
from pgm_ppl.models.linear_regression import linear_regression


@dataclass(frozen=True)
class ZooModel:
    """A zoo model: the model function, a summary, its default dataset and its table adapter."""

    name: str
    model: Callable
    summary: str
    default_data: str
    prepare: Callable[[DataTable], dict]
    options: dict = field(default_factory=dict)


def standardise(values: np.ndarray) -> np.ndarray:
    """Centre each column and scale it to unit standard deviation (constant columns are only centred)."""
    scale = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _regression_inputs(table: DataTable) -> dict:
    """Inputs: every column (standardised); response: the target, else the last column (standardised)."""
    if table.target is not None:
        inputs, response = table.values, table.target.astype(float)
    elif table.values.shape[1] >= 2:
        inputs, response = table.values[:, :-1], table.values[:, -1]
    else:
        raise DataError(f"{table.name}: linear_regression needs input columns and a response (the last column "
                        f"or a 'y' array); got a single column {table.columns[0]!r}.")
    return {"X": standardise(inputs), "y": standardise(response[:, None])[:, 0]}


def _mixture_inputs(table: DataTable) -> dict:
    """All columns, standardised; a target column, if any, is left out (unsupervised models see no labels)."""
    return {"x": standardise(table.values)}


ZOO: dict[str, ZooModel] = {
    "linear_regression": ZooModel(
        "linear_regression", linear_regression,
        "Bayesian linear regression with unknown noise (course Ex. 3.2)", "diabetes", _regression_inputs),
    "gaussian_mixture": ZooModel(
        "gaussian_mixture", gaussian_mixture,
        "hierarchical Bayesian Gaussian mixture, enumerated assignments (course Ex. 3.1)", "iris",
        _mixture_inputs, {"K": 3}),
    "factor_analysis": ZooModel(
        "factor_analysis", factor_analysis,
        "Bayesian factor analysis, lower-triangular loadings fix the rotation", "wine",
        _mixture_inputs, {"num_factors": 2}),
}
"""The zoo, by name."""


def get_model(name: str) -> ZooModel:
    """The zoo model called ``name``; ValueError listing the valid names otherwise."""
    if name not in ZOO:
        raise ValueError(f"Unknown model {name!r}: choose one of {', '.join(ZOO)}.")
    return ZOO[name]
