"""Conversion of a :class:`~pgm_ppl.inference.Fit` to :class:`arviz.InferenceData`.

Every group is built from plain numpy arrays with ``arviz.from_dict`` (present in ArviZ 0.x and 1.x;
ArviZ 1.x has no ``from_pyro``, and ArviZ 0.23's ``from_pyro`` puts deterministic sites into
``log_likelihood``). Axes are named after the model's plates.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr

from pgm_ppl.inference import Fit


def to_inference_data(fit: Fit) -> az.InferenceData:
    """Convert ``fit`` to InferenceData.

    Groups: ``posterior``; ``sample_stats`` (NUTS/HMC: ``diverging``, ``step_size``, ``tree_depth``,
    ``n_steps``, ``acceptance_rate``, ``lp``; SVI: ``elbo`` and ``loss`` over the ``svi_step`` axis);
    ``log_likelihood`` (pointwise, discrete latents summed out, deterministic and factor sites
    excluded); ``observed_data``; ``constant_data``; ``prior``; ``prior_predictive``;
    ``posterior_predictive``. A MAP fit holds one draw and has ``attrs["point_estimate"] = 1``.
    """
    dims = {name: [d for d in site_dims] for name, site_dims in fit.dims.items()}
    attrs = {"inference_library": fit.backend, "method": fit.method, "point_estimate": int(fit.point_estimate),
             "sampling_time": fit.seconds}
    idata = az.from_dict(
        posterior=fit.posterior,
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
        loglik_dims = {name: dims[name][: np.ndim(value) - 2] for name, value in fit.log_likelihood.items()}
        idata.extend(az.from_dict(log_likelihood=fit.log_likelihood, dims=loglik_dims))
    if fit.losses is not None:
        steps = np.arange(len(fit.losses))
        stats = xr.Dataset({"loss": ("svi_step", fit.losses), "elbo": ("svi_step", -fit.losses)},
                           coords={"svi_step": steps})
        idata.add_groups(sample_stats=stats)
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata
