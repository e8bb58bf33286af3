"""The one converter of any engine's result to :class:`arviz.InferenceData`.

Every result reaches ArviZ through :func:`to_inference_data`: a :class:`~pgm_ppl.core.Fit` directly, any other
engine result (EM, CAVI, Gibbs, HMM and Kalman EM, GP training, MLE, Laplace) through its adapter in
:mod:`pgm_ppl.diagnostics.adapters`. Every group is
built from plain numpy arrays with ``arviz.from_dict`` (present in ArviZ 0.x and 1.x; ArviZ 1.x has no
``from_pyro``, and ArviZ 0.23's ``from_pyro`` puts deterministic sites into ``log_likelihood``). Axes are named
after the model's plates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from pgm_ppl.core import Fit
from pgm_ppl.diagnostics.adapters import as_fit


def to_inference_data(result: Any, data: Any = None, **options: Any) -> az.InferenceData:
    """Convert any engine's result to InferenceData: ``as_fit(result, data, **options)``, then the groups below.

    ``data`` (the data the engine was fitted on) adds ``observed_data`` and the pointwise ``log_likelihood``
    for results that do not carry them; ``options`` are those of :func:`~pgm_ppl.diagnostics.as_fit`
    (``num_samples``, ``seed`` of the draws from a variational or Laplace posterior).

    Groups: ``posterior`` (draws, or one point estimate with ``attrs["point_estimate"] = 1``);
    ``sample_stats`` (NUTS/HMC: ``diverging``, ``step_size``, ``tree_depth``, ``n_steps``, ``acceptance_rate``,
    ``lp``; optimisers and training: ``loss`` and ``elbo = -loss`` over the ``step`` axis, and
    ``validation_loss`` when there is one); ``log_likelihood`` (pointwise, discrete latents summed out,
    deterministic and factor sites excluded; for trained models, the held-out rows); ``observed_data``;
    ``constant_data``; ``prior``; ``prior_predictive``; ``posterior_predictive`` (for trained generative
    models: generated samples). Attributes record the engine, the stopping rule that fired and, where the fit
    has a density on new data, what kind it is.

    Raises
    ------
    TypeError
        If ``result`` is of no engine's result type (the message lists the supported ones).
    """
    fit = as_fit(result, data, **options)
    dims = {name: list(site_dims) for name, site_dims in fit.dims.items()}
    attrs = {"inference_library": fit.backend, "method": fit.method, "point_estimate": int(fit.point_estimate),
             "sampling_time": fit.seconds, "stop_reason": fit.stop_reason, "objective": fit.objective}
    if fit.converged is not None:
        attrs["converged"] = int(fit.converged)
    if fit.density is not None:
        attrs["density_kind"] = fit.density.kind
    idata = az.from_dict(
        posterior=fit.posterior or None,
        sample_stats=fit.sample_stats or None,
        prior=fit.prior or None,
        prior_predictive=fit.prior_predictive or None,
        posterior_predictive=fit.posterior_predictive or None,
        observed_data=fit.observed_data or None,
        constant_data=fit.constant_data or None,
        dims={**dims, **{name: [f"{name}_dim_{i}" for i in range(np.ndim(value))]
                         for name, value in fit.constant_data.items()}},
    )
    if fit.log_likelihood:
        loglik_dims = {name: dims.get(name, [f"{name}_dim_{i}" for i in range(np.ndim(value) - 2)])
                       [: np.ndim(value) - 2] for name, value in fit.log_likelihood.items()}
        idata.extend(az.from_dict(log_likelihood=fit.log_likelihood, dims=loglik_dims))
    if fit.losses is not None:
        trace = _loss_trace(fit)
        if "sample_stats" in idata.groups():  # per-draw statistics and the per-step trace share the group
            trace = xr.merge([idata.sample_stats, trace])
            del idata.sample_stats
        idata.add_groups(sample_stats=trace)
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata


def _loss_trace(fit: Fit) -> xr.Dataset:
    """The objective per optimisation step: ``loss``, ``elbo = -loss`` and ``validation_loss`` when recorded."""
    losses = np.asarray(fit.losses, dtype=np.float64)
    data = {"loss": ("step", losses)}
    if fit.objective == "negative_elbo":  # only an ELBO is called one: regression and GAN losses are not bounds
        data["elbo"] = ("step", -losses)
    if fit.validation_losses is not None:
        data["validation_loss"] = ("step", np.asarray(fit.validation_losses, dtype=np.float64))
    data.update({name: ("step", np.asarray(values, dtype=np.float64)) for name, values in fit.step_stats.items()})
    return xr.Dataset(data, coords={"step": np.arange(len(losses))})


def write_netcdf(idata: az.InferenceData, path: str | Path, *, complevel: int = 1,
                 chunk_bytes: int = 4_000_000) -> None:
    """Write ``idata`` to one NetCDF-4 file, every numeric variable chunked and zlib-compressed (with shuffle).

    Chunks hold at most about ``chunk_bytes`` along the variable's leading axes (chain, draw, then the data),
    so a file with millions of rows is written and read piece by piece. ``complevel`` 1 is nearly as small as 9
    on floating-point draws and several times faster. Read it back with ``arviz.from_netcdf``.
    """
    path = str(path)
    xr.Dataset(attrs=getattr(idata, "_attrs", None) or {}).to_netcdf(path, mode="w", engine="h5netcdf")
    for group in idata.groups():
        data = idata[group]
        encoding = {name: _encoding(var, complevel, chunk_bytes) for name, var in data.variables.items()
                    if var.ndim and var.dtype.kind in "fiub"}
        data.to_netcdf(path, mode="a", group=group, engine="h5netcdf", encoding=encoding)


def _encoding(var: xr.Variable, complevel: int, chunk_bytes: int) -> dict:
    """Chunks of whole trailing axes where they fit, cut along the leading axes to about ``chunk_bytes``."""
    budget, chunks = max(1, chunk_bytes // var.dtype.itemsize), []
    for size in reversed(var.shape):
        chunks.insert(0, max(1, min(size, budget)))
        budget = max(1, budget // max(size, 1))
    return {"zlib": True, "complevel": complevel, "shuffle": True, "chunksizes": tuple(chunks)}
