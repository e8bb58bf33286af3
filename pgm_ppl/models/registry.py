"""The model zoo as the command line sees it: each model with its default data and how a table
becomes the model's arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.data import DataError, DataTable
from pgm_ppl.models.factor_analysis import factor_analysis
from pgm_ppl.models.gmm import gaussian_mixture
from pgm_ppl.models.linear_regression import linear_regression, to_data_scale


@dataclass(frozen=True)
class Option:
    """A model option as the command line sets it (``--set NAME=VALUE``): its type, range and meaning.

    ``kind`` is ``"int"`` (an integer >= ``minimum``) or ``"positive"`` (a finite float > 0).
    """

    kind: str
    help: str
    minimum: int = 1

    def check(self, name: str, value: Any) -> int | float:
        """``value`` (as parsed from the command line) converted and checked; "name: expected X, got Y." else."""
        if self.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return check_int(value, name, minimum=self.minimum)
        return check_positive(value, name)


@dataclass(frozen=True)
class Standardisation:
    """How the command standardised a table for a model: input column j became (x_j - mean_j) / scale_j and the
    response y became (y - response_mean) / response_scale, all constants in the data's own units.

    ``columns`` names the model's input columns, in order; ``response`` the response column (None for models
    without one). A constant column is only centred: its ``scale`` is then the divisor that was used."""

    columns: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    response: str | None = None
    response_mean: float = 0.0
    response_scale: float = 1.0

    def attrs(self) -> dict:
        """The constants as NetCDF attributes (plain lists and numbers)."""
        attrs = {"standardised_columns": list(self.columns), "column_mean": [float(v) for v in self.mean],
                 "column_scale": [float(v) for v in self.scale]}
        if self.response is not None:
            attrs.update(response=self.response, response_mean=float(self.response_mean),
                         response_scale=float(self.response_scale))
        return attrs


@dataclass(frozen=True)
class ZooModel:
    """A zoo model: the model function, a summary, its default dataset, its table adapter, the default values
    of its options and the declared type and range of every option the command line may set.

    ``standardisation`` gives the constants ``prepare`` used on a table; ``to_data_scale`` (draws, constants)
    turns posterior draws back into the data's units, when the model has such a map; ``feature_axes`` names, for
    each site with one axis per input column, that axis (in the site's own shape)."""

    name: str
    model: Callable
    summary: str
    default_data: str
    prepare: Callable[[DataTable], dict]
    options: dict = field(default_factory=dict)
    option_specs: Mapping[str, Option] = field(default_factory=dict)
    standardisation: Callable[[DataTable], Standardisation] | None = None
    to_data_scale: Callable[[Mapping[str, np.ndarray], Standardisation], dict] | None = None
    feature_axes: Mapping[str, int] = field(default_factory=dict)

    def check_options(self, settings: Mapping[str, Any], prefix: str = "") -> dict:
        """``settings`` checked against :attr:`option_specs` (known name, type, range) and converted; messages
        call each option ``prefix + name`` (the command line passes ``"--set "``).

        Raises
        ------
        ValueError
            For an unknown option (the message lists the valid ones) or a value out of range.
        TypeError
            For a value of the wrong type (``num_components=three``, ``num_components=2.5``).
        """
        checked = {}
        for name, value in settings.items():
            spec = self.option_specs.get(name)
            if spec is None:
                valid = ", ".join(f"{n} ({s.help})" for n, s in self.option_specs.items()) or "none"
                raise ValueError(f"{prefix}{name}: unknown option of model {self.name}; its options are {valid}.")
            checked[name] = spec.check(prefix + name, value)
        return checked


def standardise(values: np.ndarray) -> np.ndarray:
    """Centre each column and scale it to unit standard deviation (constant columns are only centred).

    Each column is first divided by its largest absolute value, so values near the float64 limit (1e300)
    do not overflow the variance.
    """
    return _standardised(values)[0]


def _standardised(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`standardise`'s result with each column's mean and divisor in the data's own units."""
    values = np.asarray(values, dtype=float)
    peak = np.abs(values).max(axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    values = values / peak
    scale = values.std(axis=0)
    constant = scale <= 8 * np.finfo(float).eps * np.abs(values).max(axis=0)
    mean, scale = values.mean(axis=0), np.where(constant, 1.0, scale)
    return (values - mean) / scale, mean * peak, scale * peak


def _check_rows(table: DataTable, model: str, minimum: int = 2) -> None:
    if table.num_rows < minimum:
        raise DataError(f"{table.name}: {model} needs at least {minimum} rows to standardise and fit, "
                        f"got {table.num_rows}.")


def _regression_columns(table: DataTable) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """Inputs, response and their names: the target is the response, else the last column."""
    if table.target is not None:
        return table.values, table.target.astype(float), table.columns, table.target_name or "target"
    if table.values.shape[1] >= 2:
        return table.values[:, :-1], table.values[:, -1], table.columns[:-1], table.columns[-1]
    raise DataError(f"{table.name}: linear_regression needs input columns and a response (the last column "
                    f"or a 'y' array); got a single column {table.columns[0]!r}.")


def _regression_standardisation(table: DataTable) -> Standardisation:
    inputs, response, columns, name = _regression_columns(table)
    _, mean, scale = _standardised(inputs)
    _, response_mean, response_scale = _standardised(response[:, None])
    return Standardisation(columns, mean, scale, name, float(response_mean[0]), float(response_scale[0]))


def _mixture_standardisation(table: DataTable) -> Standardisation:
    _, mean, scale = _standardised(table.values)
    return Standardisation(table.columns, mean, scale)


def _regression_inputs(table: DataTable) -> dict:
    """Inputs: every column (standardised); response: the target, else the last column (standardised)."""
    if table.target is not None:
        inputs, response = table.values, table.target.astype(float)
    elif table.values.shape[1] >= 2:
        inputs, response = table.values[:, :-1], table.values[:, -1]
    else:
        raise DataError(f"{table.name}: linear_regression needs input columns and a response (the last column "
                        f"or a 'y' array); got a single column {table.columns[0]!r}.")
    _check_rows(table, "linear_regression")
    if np.ptp(response) <= 8 * np.finfo(float).eps * np.abs(response).max():
        name = table.target_name if table.target is not None else table.columns[-1]
        raise DataError(f"{table.name}: the response {name!r} is constant ({response[0]:g} in all "
                        f"{table.num_rows} rows): there is nothing to regress; choose a column that varies as "
                        "the last one (or the 'y' array).")
    return {"X": standardise(inputs), "y": standardise(response[:, None])[:, 0]}


def _mixture_inputs(table: DataTable) -> dict:
    """All columns, standardised; a target column, if any, is left out (unsupervised models see no labels)."""
    _check_rows(table, "this model")
    return {"x": standardise(table.values)}


ZOO: dict[str, ZooModel] = {
    "linear_regression": ZooModel(
        "linear_regression", linear_regression,
        "Bayesian linear regression with unknown noise (course Ex. 3.2)", "diabetes", _regression_inputs, {},
        {"prior_scale": Option("positive", "prior sd of the weights, > 0"),
         "noise_scale": Option("positive", "known noise sd, > 0; omit to infer it")},
        _regression_standardisation,
        lambda draws, s: to_data_scale(draws, s.mean, s.scale, s.response_mean, s.response_scale), {"w": 0}),
    "gaussian_mixture": ZooModel(
        "gaussian_mixture", gaussian_mixture,
        "hierarchical Bayesian Gaussian mixture, enumerated assignments (course Ex. 3.1)", "iris",
        _mixture_inputs, {"num_components": 3},
        {"num_components": Option("int", "number of components, an integer >= 1"),
         "concentration": Option("positive", "Dirichlet concentration, > 0"),
         "prior_scale": Option("positive", "prior sd of the component means, > 0")},
        _mixture_standardisation, None, {"mu": 1, "sigma": 1}),
    "factor_analysis": ZooModel(
        "factor_analysis", factor_analysis,
        "Bayesian factor analysis, lower-triangular loadings fix the rotation", "wine",
        _mixture_inputs, {"num_factors": 2},
        {"num_factors": Option("int", "number of factors, an integer >= 1, at most the columns"),
         "prior_scale": Option("positive", "prior scale of the loadings, > 0")},
        _mixture_standardisation, None, {"loadings": 0, "W": 0, "psi": 0, "mu": 0}),
}
"""The zoo, by name."""


def get_model(name: str) -> ZooModel:
    """The zoo model called ``name``; ValueError listing the valid names otherwise."""
    if name not in ZOO:
        raise ValueError(f"Unknown model {name!r}: choose one of {', '.join(ZOO)}.")
    return ZOO[name]
