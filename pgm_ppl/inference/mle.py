r"""Maximum likelihood for a model written in the neutral namespace (course §1.4, eqs. (1.7)-(1.9)).

The parameters are the model's ``pyro.param`` sites; the model may have no continuous latent sample
sites, but discrete latents marked ``infer={"enumerate": "parallel"}`` are summed out exactly. The
log-likelihood :math:`\ell(\theta) = \log p_\theta(x)` is minus the ELBO with an empty guide (the ELBO
of a model with no latents, or with enumerated ones only, is the log evidence itself), and it is
maximised by :func:`pgm_ppl.information.autodiff_mle`, which also gives standard errors from the
observed information :math:`-\nabla^2 \ell(\hat\theta)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyro import poutine
from pyro.infer import Trace_ELBO, TraceEnum_ELBO

from pgm_ppl.backend import to_backend, use_backend
from pgm_ppl.inference.inputs import model_inputs
from pgm_ppl.backend.seeding import seeded
from pgm_ppl.inference.pyro_engine import model_structure
from pgm_ppl.information.likelihood import MLEResult, autodiff_mle


def fit_mle(model: Callable, data: Any = None, *, model_kwargs: dict | None = None, max_iter: int = 500,
            seed: int = 0) -> MLEResult:
    """Maximum-likelihood estimates and standard errors of a neutral model's ``pyro.param`` sites.

    Parameters
    ----------
    model
        A model written with ``pgm_ppl.pyro`` / ``dist`` / ``ops`` whose unknowns are ``pyro.param``
        sites (with their constraints), run here on the Pyro backend.
    data, model_kwargs
        As for :func:`pgm_ppl.fit`.
    max_iter
        L-BFGS iteration cap.
    seed
        Seed of the one prior run that finds the sites and the parameters' initial values.

    Returns
    -------
    pgm_ppl.information.MLEResult
        Estimates, :math:`\\ell(\\hat\\theta)`, standard errors and the observed information.

    Raises
    ------
    ValueError
        If the model has continuous latent sample sites (use ``fit(..., method="svi", guide="auto_delta")``
        for a MAP estimate instead) or no ``pyro.param`` site.

    Examples
    --------
    >>> import numpy as np
    >>> from pgm_ppl import dist, pyro
    >>> def normal(y):
    ...     mu = pyro.param("mu", 0.0)
    ...     sigma = pyro.param("sigma", 1.0, constraint=dist.constraints.positive)
    ...     with pyro.plate("data", len(y)):
    ...         pyro.sample("y", dist.Normal(mu, sigma), obs=y)
    >>> y = np.array([0.5, 1.5, 1.0, 2.0])
    >>> result = fit_mle(normal, y)
    >>> round(float(result.params["mu"]), 6), round(float(result.standard_errors["mu"]), 6)
    (1.25, 0.279508)
    """
    args, kwargs = model_inputs(data, model_kwargs)
    with use_backend("pyro"):
        args, kwargs = to_backend(args, "pyro"), to_backend(kwargs, "pyro")
        structure = model_structure(model, args, kwargs, seed)
        latent = structure.names("latent")
        if latent:
            raise ValueError(f"fit_mle needs a model whose only unknowns are pyro.param sites (and enumerated "
                             f"discrete latents); {model.__name__} samples {latent}. For a MAP estimate use "
                             "fit(model, data, method='svi', guide='auto_delta').")
        with seeded(seed):
            trace = poutine.trace(model).get_trace(*args, **kwargs)
        params = {name: site for name, site in trace.nodes.items() if site["type"] == "param"}
        if not params:
            raise ValueError(f"{model.__name__} has no pyro.param site: nothing to estimate.")
        elbo_class = TraceEnum_ELBO if structure.names("enumerated") else Trace_ELBO
        elbo = elbo_class(max_plate_nesting=structure.max_plate_nesting)

        def log_likelihood(values):
            # TraceEnum_ELBO refuses a loss that needs no gradient: make every value a graph leaf
            values = {name: v if v.requires_grad else v.detach().requires_grad_() for name, v in values.items()}
            with seeded(seed):
                return -elbo.differentiable_loss(poutine.substitute(model, data=values), _empty_guide,
                                                 *args, **kwargs)

        return autodiff_mle(
            log_likelihood, {name: site["value"].detach().numpy() for name, site in params.items()},
            support={name: site["kwargs"]["constraint"] for name, site in params.items()}, max_iter=max_iter)


def _empty_guide(*args, **kwargs) -> None:
    """The guide of a model with no latent variables to approximate."""


