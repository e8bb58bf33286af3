"""``fit``: one entry point for every model, method and backend, returning a :class:`Fit`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pgm_ppl.backend import check_backend, to_backend, use_backend
from pgm_ppl.inference.engines import engine as backend_engine
from pgm_ppl.inference.detect import detect_flavour
from pgm_ppl.inference.guides import resolve_guide_name
from pgm_ppl.inference.heldout import PosteriorPredictiveDensity
from pgm_ppl.inference.inputs import model_inputs
from pgm_ppl.inference.methods import DEFAULT_BACKEND, METHODS
from pgm_ppl.inference.relabel import align_components
from pgm_ppl.core.result import Fit
from pgm_ppl.core.seeding import stream
from pgm_ppl.core.validation import check_int
from pgm_ppl.inference.sites import ModelStructure



def fit(model: Callable, data: Any = None, *, method: str = "nuts", backend: str | None = None,
        guide: str | Callable = "auto_normal", num_samples: int = 1000, num_warmup: int = 1000,
        num_chains: int = 4, num_steps: int = 5000, learning_rate: float = 0.01, seed: int = 0,
        model_kwargs: dict | None = None, num_prior_samples: int = 500, predictive: bool = True,
        log_likelihood: bool = True, pointwise_thin: int = 1, progress_bar: bool | None = None,
        **kernel_options: Any) -> Fit:
    """Fit ``model`` to ``data`` by MCMC or SVI, on Pyro or NumPyro, and collect everything ArviZ needs.

    Parameters
    ----------
    model
        A model function written with ``pgm_ppl.pyro`` / ``dist`` / ``ops`` (runs on either backend), or a
        native Pyro or NumPyro model (detected; it runs on its own backend).
    data
        The model's arguments: a dict (keyword arguments), a tuple (positional) or one array (the first
        positional argument). Arrays must be finite and non-empty.
    method
        "nuts" (default), "hmc" or "svi"; see :data:`METHODS`.
    backend
        "numpyro" or "pyro". By default NUTS/HMC run on NumPyro (much faster on CPU) and SVI on Pyro;
        a native model always runs on its own backend.
    guide
        For SVI: "auto_normal" (mean-field), "auto_mvn" (full-rank normal), "auto_delta" (MAP point
        estimate) or "auto_laplace" (Laplace approximation at the MAP), or a guide function.
        Enumerated discrete latents are hidden from autoguides and summed out by ``TraceEnum_ELBO``.
    num_samples, num_warmup, num_chains
        Draws kept per chain, warm-up (adaptation) iterations per chain and number of chains (MCMC).
        On NumPyro, chains run in parallel across devices when there are enough (GPUs, or CPU devices
        made with ``XLA_FLAGS=--xla_force_host_platform_device_count``), else vectorised on one device.
        On Pyro they run one after another, each on its own stream spawned from ``seed``.
        For SVI, ``num_samples`` draws are taken from the fitted guide (one for "auto_delta").
    num_steps, learning_rate
        SVI optimisation steps and Adam's learning rate.
    seed
        The seed of every random draw: the same seed gives identical results. It is split into independent
        streams (:func:`pgm_ppl.core.seeding.stream`: inference, prior, posterior predictive, log-likelihood;
        one spawned stream per chain), so no two purposes share draws.
    model_kwargs
        Further keyword arguments of the model (options such as ``num_components=3``).
    num_prior_samples
        Draws from the prior (and prior predictive); 0 skips them.
    predictive
        Whether to draw the posterior predictive of the observed sites.
    log_likelihood
        Whether to compute the pointwise log-likelihood (needed by LOO and model comparison).
    pointwise_thin
        Use every ``pointwise_thin``-th draw of each chain (draws 0, t, 2t, ...) for the pointwise
        log-likelihood and the posterior predictive, whose size grows with the data: 1 (default) uses every
        draw. Their ``draw`` axis is then shorter than the posterior's.
    progress_bar
        Show progress bars for sampling and optimisation; by default (None) only when standard error is a
        terminal, so logs and CI output carry no bar lines.
    **kernel_options
        Passed to the NUTS/HMC kernel (``target_accept_prob``, ``max_tree_depth``, ...); a TypeError with
        ``method="svi"``, where no kernel would read them.

    Returns
    -------
    Fit
        Draws, statistics, pointwise log-likelihood and predictive draws as numpy arrays;
        ``fit.to_inference_data()`` gives an :class:`arviz.InferenceData`.

    Raises
    ------
    ValueError
        For an unknown method, backend or guide, a native model asked to run on the other backend,
        or bad data (empty, non-finite).
    TypeError
        For a model that is not callable, or kernel options given with ``method="svi"``.
    ValueError, TypeError
        For ``num_samples``, ``num_chains`` or ``num_steps`` below 1, ``num_warmup`` below 0, or any of them not an
        integer ("num_chains: expected an integer >= 1, got 0.").
    pgm_ppl.inference.errors.NonFiniteLossError
        When the SVI loss becomes NaN or infinite (names the step and the site).

    Examples
    --------
    >>> import numpy as np
    >>> from pgm_ppl import dist, fit, pyro
    >>> def model(y):
    ...     mu = pyro.sample("mu", dist.Normal(0.0, 10.0))
    ...     with pyro.plate("data", len(y)):
    ...         pyro.sample("y", dist.Normal(mu, 1.0), obs=y)
    >>> y = np.random.default_rng(0).normal(3.0, 1.0, size=50)
    >>> result = fit(model, y, num_samples=200, num_warmup=200, num_chains=2, progress_bar=False)
    >>> bool(abs(result.posterior["mu"].mean() - y.mean()) < 0.1)
    True
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(map(repr, METHODS))}.")
    if not callable(model):
        raise TypeError(f"model must be a function, got {type(model).__name__}.")
    if kernel_options and method == "svi":
        names = "{" + ", ".join(map(repr, sorted(kernel_options))) + "}"
        raise TypeError(f"kernel_options: NUTS/HMC kernel options only apply to method='nuts'/'hmc'; got {names} "
                        f"with method='svi'. Remove them, or check the spelling of fit's own arguments.")
    num_samples, num_warmup = check_int(num_samples, "num_samples"), check_int(num_warmup, "num_warmup", minimum=0)
    num_chains, num_steps = check_int(num_chains, "num_chains"), check_int(num_steps, "num_steps")
    pointwise_thin = check_int(pointwise_thin, "pointwise_thin")
    if progress_bar is None:  # tqdm's disable=None rule, decided once for every bar of the run
        progress_bar = sys.stderr.isatty()
    guide = resolve_guide_name(guide) if isinstance(guide, str) else guide
    args, kwargs = model_inputs(data, model_kwargs)
    backend = _choose_backend(model, method, backend, args, kwargs)
    engine = backend_engine(backend)
    with use_backend(backend):
        args, kwargs = to_backend(args, backend), to_backend(kwargs, backend)
        structure = engine.model_structure(model, args, kwargs, seed)
        start = time.perf_counter()
        if method == "svi":
            run = engine.run_svi(model, guide, args, kwargs, structure=structure, num_steps=num_steps,
                                 learning_rate=learning_rate, num_samples=num_samples,
                                 seed=stream(seed, "inference"),
                                 progress_bar=progress_bar)
            posterior, stats = _shaped(run["posterior"], structure, leading=2), {}
        else:
            options = {"structure": structure} if backend == "pyro" else {}
            posterior, stats = engine.run_mcmc(model, args, kwargs, method=method, num_samples=num_samples,
                                               num_warmup=num_warmup, num_chains=num_chains,
                                               seed=stream(seed, "inference"),
                                               progress_bar=progress_bar, **options, **kernel_options)
            posterior, run = _shaped(posterior, structure, leading=2), {}
        seconds = time.perf_counter() - start
        thinned = {name: value[:, ::pointwise_thin] for name, value in posterior.items()}
        extras = _derived_groups(engine, model, args, kwargs, structure, thinned, seed=seed,
                                 num_prior_samples=num_prior_samples, predictive=predictive,
                                 log_likelihood=log_likelihood)
    spec = getattr(model, "exchangeable_components", None)
    if spec is not None:
        posterior = align_components(posterior, spec)
    return Fit(method=method, backend=backend, model=model, args=args, kwargs=kwargs, posterior=posterior,
               sample_stats=stats, losses=run.get("losses"), params=run.get("params", {}),
               objective="negative_elbo" if run.get("losses") is not None else "",
               guide=run.get("guide"), point_estimate=guide == "auto_delta" and method == "svi",
               dims={name: list(site.dims) for name, site in structure.sites.items()},
               observed_data={name: structure.sites[name].value for name in structure.names("observed")},
               constant_data=_constant_data(args, kwargs, structure), seconds=seconds,
               density=PosteriorPredictiveDensity.from_posterior(model, backend, posterior, structure, model_kwargs),
               **extras)


def _choose_backend(model, method, backend, args, kwargs) -> str:
    flavour = detect_flavour(model, args, kwargs)
    if flavour == "neutral":
        return check_backend(backend) if backend is not None else DEFAULT_BACKEND[method]
    if backend is not None and check_backend(backend) != flavour:
        raise ValueError(f"{getattr(model, '__name__', 'The model')} is a native {flavour} model and cannot run "
                         f"on backend={backend!r}; write it with pgm_ppl's pyro/dist/ops to use both backends.")
    return flavour


def _derived_groups(engine, model, args, kwargs, structure: ModelStructure, posterior, *, seed,
                    num_prior_samples, predictive, log_likelihood) -> dict:
    """Pointwise log-likelihood, prior and predictive draws, each ``(chain, draw, ...)``."""
    chains, draws = next(iter(posterior.values())).shape[:2]
    flat = {name: value.reshape((chains * draws,) + value.shape[2:]) for name, value in posterior.items()
            if structure.sites[name].kind == "latent"}
    observed = structure.names("observed")
    groups = {}
    if log_likelihood and observed:
        loglik = engine.pointwise_log_likelihood(model, args, kwargs, posterior=flat, structure=structure,
                                                 seed=stream(seed, "log_likelihood"))
        groups["log_likelihood"] = {
            name: value.reshape((chains, draws) + structure.sites[name].batch_shape)
            for name, value in loglik.items()}
    if predictive and observed:
        draws_ = engine.predictive(model, args, kwargs, seed=stream(seed, "posterior_predictive"), posterior=flat,
                                   return_sites=observed)
        groups["posterior_predictive"] = _shaped({name: value.reshape((chains, draws, -1))
                                                  for name, value in draws_.items()}, structure, leading=2)
    if num_prior_samples:
        sites = structure.names("latent", "enumerated", "deterministic", "observed")
        prior = engine.predictive(model, args, kwargs, seed=stream(seed, "prior"), num_samples=num_prior_samples,
                                  return_sites=sites)
        prior = _shaped({name: value[None] for name, value in prior.items()}, structure, leading=2)
        groups["prior"] = {name: value for name, value in prior.items() if name not in observed}
        groups["prior_predictive"] = {name: value for name, value in prior.items() if name in observed}
    return groups


def _shaped(samples: dict, structure: ModelStructure, *, leading: int) -> dict:
    """Reshape each site's draws to ``leading`` sample axes followed by the site's own shape (Pyro's
    ``Predictive`` pads sites outside plates with singleton batch axes)."""
    return {name: value.reshape(value.shape[:leading] + structure.sites[name].shape)
            for name, value in samples.items()}


def _constant_data(args, kwargs, structure: ModelStructure) -> dict[str, np.ndarray]:
    """The model's array arguments, except those that are observed-site values."""
    named = {**{f"arg{i}": value for i, value in enumerate(args)}, **kwargs}
    observed = [structure.sites[name].value for name in structure.names("observed")]
    arrays = {name: np.asarray(value) for name, value in named.items() if getattr(value, "ndim", 0) > 0}
    return {name: value for name, value in arrays.items()
            if not any(value.shape == obs.shape and np.array_equal(value, obs) for obs in observed)}
