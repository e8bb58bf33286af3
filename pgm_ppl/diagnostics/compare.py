r"""Cross-family model comparison by held-out expected log predictive density, in ArviZ's own table.

For test rows :math:`\tilde x_1, \dots, \tilde x_n` held out from every fit, each model's pointwise
held-out log predictive density is

.. math::
    \widehat{\mathrm{elpd}}_i = \log p_M(\tilde x_i), \qquad
    \widehat{\mathrm{elpd}} = \sum_{i=1}^n \widehat{\mathrm{elpd}}_i, \qquad
    \mathrm{se} = \sqrt{n \operatorname{Var}_i(\widehat{\mathrm{elpd}}_i)},

with :math:`p_M` the model's density on new data (:attr:`pgm_ppl.core.result.Fit.density`): exact for a
Gaussian mixture or a flow, the posterior predictive :math:`\frac1S\sum_s p(\tilde x_i \mid \theta_s)` for a
Bayesian model, a bound or an estimate for a VAE or a diffusion model. Since the rows are new, no
leave-one-out correction is needed: this is the held-out elpd of Vehtari, Gelman & Gabry (2017), eq. (1),
estimated by its test-set average, and the differences between two models use the pointwise differences
(:math:`\mathrm{dse} = \sqrt{n \operatorname{Var}_i(\mathrm{elpd}_{A,i} - \mathrm{elpd}_{B,i})}`), eq. (24).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from arviz.stats.stats_utils import ELPDData

from pgm_ppl.core.result import DENSITY_KINDS, Density, Fit
from pgm_ppl.core.validation import check_choice, check_data

__all__ = ["DensityKindWarning", "compare_heldout", "plot_compare_heldout"]

SCALES = {"log": 1.0, "negative_log": -1.0, "deviance": -2.0}
_PROPER = ("exact", "posterior_predictive")  # normalised predictive densities: comparable with each other
# ArviZ 0.23 names the columns after its information criteria; the table uses the criterion-free names.
_COLUMNS = {"elpd_loo": "elpd", "p_loo": "p", "elpd_diff": "d_elpd"}


class DensityKindWarning(UserWarning):
    """A comparison ranks a lower bound or a stochastic estimate beside proper densities."""


def compare_heldout(results: Mapping[str, Fit | Density], data: Any, *, scale: str = "log") -> pd.DataFrame:
    r"""Rank fitted models of any family by held-out expected log predictive density (elpd).

    Each model's pointwise :math:`\widehat{\mathrm{elpd}}_i = \log p_M(\tilde x_i)` on the test rows ``data``
    becomes an ArviZ ``ELPDData``, and :func:`arviz.compare` builds the table, so the standard errors, the
    differences and the stacking weights are ArviZ's own (see the module docstring for the formulas).

    Parameters
    ----------
    results
        Model name to a :class:`~pgm_ppl.core.result.Fit` with a density (``fit.log_prob`` is used) or to a
        :class:`~pgm_ppl.core.result.Density` (for example
        :class:`pgm_ppl.em.density.GaussianMixtureDensity`).
    data
        The held-out rows, the same for every model: an array whose first axis indexes rows, or the
        dict/tuple form that :func:`pgm_ppl.fit` takes when the models need several arguments.
    scale
        ``"log"`` (elpd, higher is better), ``"negative_log"`` (:math:`-` elpd) or ``"deviance"``
        (:math:`-2` elpd), as in ArviZ.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first, with ArviZ's columns under criterion-free names: ``rank``, ``elpd``
        (the sum over rows, on ``scale``), ``p`` (NaN: a held-out density has no effective number of
        parameters), ``d_elpd`` (difference to the best model), ``weight`` (stacking), ``se``, ``dse``
        (standard error of the pointwise differences), ``warning``, ``scale``, and ``kind``, the density kind
        of each model ("exact", "posterior_predictive", "lower_bound", "estimate"). ``table.attrs`` holds
        ``"elpd_i"`` (model name to the pointwise values on ``scale``) and ``"elpd_data"`` (the ArviZ
        ``ELPDData`` objects, which :func:`arviz.compare` accepts directly).

    Raises
    ------
    TypeError
        If a result is neither a Fit nor a Density.
    ValueError
        For an unknown ``scale``, empty ``results``, a Fit without density, data of the wrong dimension for a
        model (the model and its expected row shape are named), non-finite data or log-densities, or models
        returning different numbers of rows.

    Warns
    -----
    DensityKindWarning
        When a lower bound or an estimate is ranked beside models of another kind: a bound's elpd is only a
        lower bound on the model's, so its rank against exact densities is not a like-for-like comparison.

    See Also
    --------
    plot_compare_heldout, arviz.compare

    References
    ----------
    Vehtari, A., Gelman, A. & Gabry, J. (2017). Practical Bayesian model evaluation using leave-one-out
    cross-validation and WAIC. *Statistics and Computing* 27, 1413-1432.

    Examples
    --------
    >>> import numpy as np
    >>> from pgm_ppl.em import fit_gmm
    >>> from pgm_ppl.em.density import GaussianMixtureDensity
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> models = {f"K={k}": GaussianMixtureDensity(fit_gmm(X[:100], k).params) for k in (1, 2)}
    >>> table = compare_heldout(models, X[100:])
    >>> list(table.columns)
    ['rank', 'elpd', 'p', 'd_elpd', 'weight', 'se', 'dse', 'warning', 'scale', 'kind']
    """
    scale_value = SCALES[check_choice(scale, "scale", tuple(SCALES))]
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results: expected a non-empty dict of model name to Fit or Density, "
                         f"got {type(results).__name__} {results!r:.80}.")
    densities = {str(name): _density_of(str(name), result) for name, result in results.items()}
    # dtype=None: integer rows (token ids, binary pixels) reach each model as the integers they are
    data = data if isinstance(data, (dict, tuple)) else check_data(data, "data", ndim=None, dtype=None)
    elpd_i = {name: scale_value * _pointwise(name, result, densities[name], data)
              for name, result in results.items()}
    _check_same_rows(elpd_i)
    kinds = {name: density.kind for name, density in densities.items()}
    _warn_mixed_kinds(kinds)
    elpd_data = {name: _elpd_data(values, scale, getattr(densities[name], "num_draws", 1))
                 for name, values in elpd_i.items()}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The point-wise LOO is the same", category=UserWarning)
        table = az.compare(elpd_data, ic="loo", scale=scale, method="stacking")
    table = table.rename(columns=_COLUMNS)
    table["kind"] = [kinds[name] for name in table.index]
    table.attrs.update(elpd_i=elpd_i, elpd_data=elpd_data)
    return table


def plot_compare_heldout(table: pd.DataFrame, **plot_options: Any) -> Any:
    """Draw a :func:`compare_heldout` table with :func:`arviz.plot_compare` (elpd and se per model, dse bars).

    ``plot_options`` go to :func:`arviz.plot_compare` (``ax``, ``figsize``, ``plot_ic_diff``, ...). Returns
    the matplotlib axes; the x label says the values are held-out elpd and each model's label its kind.
    """
    missing = sorted(set(_COLUMNS.values()) - set(table.columns))
    if missing:
        raise ValueError(f"table: expected the output of compare_heldout, missing column(s) {missing}.")
    arviz_table = table.rename(columns={new: old for old, new in _COLUMNS.items()})
    if "kind" in table.columns:
        arviz_table.index = [f"{name} ({kind})" for name, kind in zip(table.index, table["kind"])]
    ax = az.plot_compare(arviz_table, insample_dev=False, **plot_options)
    ax.set_xlabel(f"held-out elpd ({table['scale'].iloc[0]})")
    return ax


def _density_of(name: str, result: Any) -> Density:
    if isinstance(result, Fit):
        if result.density is None:
            raise ValueError(f"model {name!r}: this {result.method!r} fit has no density on new data, so it has "
                             "no held-out log-likelihood; pass a fit from pgm_ppl.fit, EM or training.")
        density = result.density
    elif isinstance(result, Density):
        density = result
    else:
        raise TypeError(f"model {name!r}: expected a Fit or a Density (an object with kind, log_prob and "
                        f"sample), got {type(result).__name__}.")
    if density.kind not in DENSITY_KINDS:
        raise ValueError(f"model {name!r}: density kind must be one of {', '.join(map(repr, DENSITY_KINDS))}, "
                         f"got {density.kind!r}.")
    return density


def _pointwise(name: str, result: Fit | Density, density: Density, data: Any) -> np.ndarray:
    """``log p_M(x_i)`` per row, after checking the row shape the density declares (``event_shape``)."""
    event_shape = getattr(density, "event_shape", None)
    if event_shape is not None and isinstance(data, np.ndarray) and data.shape[1:] != tuple(event_shape):
        dimension = f" (dimension {event_shape[0]})" if len(event_shape) == 1 else ""
        raise ValueError(f"model {name!r} expects data rows of shape {tuple(event_shape)}{dimension}, got data "
                         f"of shape {data.shape} (rows of shape {data.shape[1:]}).")
    try:
        values = np.asarray(result.log_prob(data), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise type(error)(f"model {name!r}: {error}") from error
    if values.ndim != 1:
        raise ValueError(f"model {name!r}: log_prob must return one value per row (shape (n,)), got shape "
                         f"{values.shape}.")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"model {name!r}: log-density {values[bad[0]]} at row {bad[0]} ({bad.size} non-finite "
                         "value(s) in all); the row lies outside the model's support or the model overflowed.")
    return values


def _check_same_rows(elpd_i: dict[str, np.ndarray]) -> None:
    if len({len(values) for values in elpd_i.values()}) > 1:
        rows = ", ".join(f"{name!r}: {len(values)}" for name, values in elpd_i.items())
        raise ValueError(f"every model must score the same rows; got numbers of rows {rows}.")


def _warn_mixed_kinds(kinds: dict[str, str]) -> None:
    improper = {name: kind for name, kind in kinds.items() if kind not in _PROPER}
    if improper and len(set(kinds.values())) > 1:
        listed = ", ".join(f"{name!r} ({kind})" for name, kind in improper.items())
        warnings.warn(f"compare_heldout ranks {listed} beside models of another kind ({sorted(set(kinds.values()))}):"
                      " a lower bound understates, and an estimate scatters around, the model's elpd; read the "
                      "'kind' column before the ranks.", DensityKindWarning, stacklevel=3)


def _elpd_data(elpd_i: np.ndarray, scale: str, num_draws: int) -> ELPDData:
    """ArviZ's pointwise ``ELPDData`` (as :func:`arviz.loo` builds it) from held-out pointwise values.

    ``se`` is ArviZ's :math:`\\sqrt{n \\operatorname{Var}_i(\\mathrm{elpd}_i)}` (population variance, as in
    ``arviz.loo``); ``p_loo`` is NaN.
    """
    n = len(elpd_i)
    pointwise = xr.DataArray(elpd_i, dims=["observation"], name="loo_i")
    return ELPDData(data=[float(elpd_i.sum()), float(np.sqrt(n * np.var(elpd_i))), np.nan, int(num_draws), n,
                          False, pointwise, scale],
                    index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i", "scale"])
