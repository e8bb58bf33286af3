"""The Pyro (PyTorch) engines behind :func:`pgm_ppl.fit`: NUTS/HMC, SVI, predictive draws, pointwise
log-likelihood. Every function takes the model with its (torch) arguments and returns numpy arrays.

Pyro draws from PyTorch's global generator; every entry point here runs inside
:func:`pgm_ppl.backend.seeding.seeded`, which forks that generator, so a seed gives identical results and the
caller's random state is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.infer import HMC, MCMC, NUTS, SVI, Predictive, Trace_ELBO, TraceEnum_ELBO, autoguide
from tqdm import tqdm

from pgm_ppl.backend import to_numpy
from pgm_ppl.backend.seeding import seeded
from pgm_ppl.core.interrupt import interruptible
from pgm_ppl.core.seeding import spawn_seeds
from pgm_ppl.inference.errors import ModelRunError, NonFiniteLossError, model_run_message, non_finite_message
from pgm_ppl.inference.guides import GUIDES, hide_enumerated
from pgm_ppl.inference.sites import ModelStructure, describe_trace

_KERNELS = {"nuts": NUTS, "hmc": HMC}


def model_structure(model: Callable, args: tuple, kwargs: dict, seed: int) -> ModelStructure:
    """Trace the model once (latents drawn from the prior) and describe its sites.

    Raises
    ------
    ModelRunError
        If the model fails on these arguments; names the last site reached and the input shapes.
    """
    tracer = poutine.trace(model)
    with seeded(seed):
        try:
            return describe_trace(tracer.get_trace(*args, **kwargs))
        except Exception as error:  # any failure inside user code becomes one message about the data
            sites = [name for name, site in tracer.msngr.trace.nodes.items()
                     if site["type"] == "sample" and type(site["fn"]).__name__ != "_Subsample"]
            raise ModelRunError(model_run_message(error, sites[-1] if sites else None, args, kwargs)) from error


def run_mcmc(model: Callable, args: tuple, kwargs: dict, *, method: str, num_samples: int, num_warmup: int,
             num_chains: int, seed: int, progress_bar: bool, structure: ModelStructure,
             **kernel_options: Any) -> tuple[dict, dict]:
    """Run Pyro's NUTS or HMC, one chain after another, each on its own stream spawned from ``seed``
    (:func:`pgm_ppl.core.seeding.spawn_seeds`, so no chain shares draws with another or with ``seed + c``)."""
    chains = [_one_chain(model, args, kwargs, method=method, num_samples=num_samples, num_warmup=num_warmup,
                         seed=chain_seed, progress_bar=progress_bar, structure=structure, **kernel_options)
              for chain_seed in spawn_seeds(seed, num_chains)]
    posterior = {name: np.stack([c[0][name] for c in chains]) for name in chains[0][0]}
    stats = {name: np.stack([c[1][name] for c in chains]) for name in chains[0][1]}
    return posterior, stats


def _one_chain(model, args, kwargs, *, method, num_samples, num_warmup, seed, progress_bar, structure,
               **kernel_options):
    kernel = _KERNELS[method](model, max_plate_nesting=structure.max_plate_nesting, **kernel_options)
    step_sizes, divergences, leapfrogs = [], [], []
    evaluations = _count_potential_evaluations(kernel)

    def record(kernel, params, stage, i):
        if stage == "Sample":
            step_sizes.append(kernel.step_size)
            divergences.append(len(kernel._divergences))
            leapfrogs.append(evaluations[0])
        evaluations[0] = 0

    with seeded(seed):
        mcmc = MCMC(kernel, num_samples=num_samples, warmup_steps=num_warmup, num_chains=1,
                    disable_progbar=not progress_bar, hook_fn=record)
        mcmc.run(*args, **kwargs)
        samples = mcmc.get_samples()
        deterministic = structure.names("deterministic")
        if deterministic:
            samples.update(Predictive(model, posterior_samples=samples, return_sites=deterministic)(*args, **kwargs))
    posterior = {name: to_numpy(value) for name, value in samples.items()}
    n_steps = np.array(leapfrogs, dtype=np.int64)
    stats = {"diverging": np.diff(np.array([0] + divergences)) > 0, "step_size": np.array(step_sizes, float),
             "n_steps": n_steps}
    if method == "nuts":
        stats["tree_depth"] = np.floor(np.log2(np.maximum(n_steps, 1))).astype(np.int64) + 1
    return posterior, stats


def _count_potential_evaluations(kernel) -> list[int]:
    """Count the kernel's potential-energy evaluations (one per leapfrog step); Pyro records no per-draw
    tree size, so this is how ``n_steps`` and ``tree_depth`` are measured. Returns the mutable counter."""
    counter = [0]
    setup = kernel.setup

    def counting_setup(*args, **kwargs):
        setup(*args, **kwargs)
        potential_fn = kernel.potential_fn

        def counted(params):
            counter[0] += 1
            return potential_fn(params)

        kernel.potential_fn = counted

    kernel.setup = counting_setup
    return counter


def run_svi(model: Callable, guide: str | Callable, args: tuple, kwargs: dict, *, structure: ModelStructure,
            num_steps: int, learning_rate: float, num_samples: int, seed: int, progress_bar: bool) -> dict:
    """Run SVI with Adam; return the loss trace, parameters and draws from the fitted guide."""
    guide_name = guide if isinstance(guide, str) else None
    enumerated = bool(structure.names("enumerated"))
    with seeded(seed):
        if guide_name is not None:
            guide = getattr(autoguide, GUIDES[guide_name])(poutine.block(model, hide_fn=hide_enumerated))
        elbo_class = TraceEnum_ELBO if enumerated else Trace_ELBO
        elbo = elbo_class(max_plate_nesting=structure.max_plate_nesting)
        svi = SVI(model, guide, pyro.optim.Adam({"lr": learning_rate}), elbo)
        losses = np.empty(num_steps)
        with interruptible() as check_interrupt:  # a Ctrl-C swallowed by a GC callback still stops it
            for step in tqdm(range(num_steps), desc="SVI", disable=not progress_bar, mininterval=0.5):
                check_interrupt()
                try:
                    losses[step] = svi.step(*args, **kwargs)
                except ValueError as error:  # Pyro's argument validation meets a parameter gone non-finite
                    site = non_finite_site(model, guide, args, kwargs)
                    if site is None:
                        raise
                    raise NonFiniteLossError(non_finite_message(step + 1, float("nan"), site)) from error
                if not np.isfinite(losses[step]):
                    site = non_finite_site(model, guide, args, kwargs)
                    raise NonFiniteLossError(non_finite_message(step + 1, losses[step], site))
        if guide_name == "auto_laplace":
            guide = guide.laplace_approximation(*args, **kwargs)
        draws = 1 if guide_name == "auto_delta" else num_samples
        sites = structure.names("latent", "deterministic")
        samples = Predictive(model, guide=guide, num_samples=draws, return_sites=sites)(*args, **kwargs)
        params = {name: to_numpy(value) for name, value in pyro.get_param_store().items()}
    posterior = {name: to_numpy(samples[name])[None] for name in sites if name in samples}
    return {"posterior": posterior, "losses": losses, "guide": guide, "params": params}


def predictive(model: Callable, args: tuple, kwargs: dict, *, seed: int, posterior: dict | None = None,
               num_samples: int = 0, return_sites: list[str]) -> dict:
    """Draw ``return_sites`` with observed sites resampled: from the prior when ``posterior`` is None,
    else once per posterior draw (``posterior`` arrays have one leading sample axis)."""
    samples = None if posterior is None else {name: torch.as_tensor(v) for name, v in posterior.items()}
    with seeded(seed), torch.no_grad():
        predict = Predictive(poutine.uncondition(model), posterior_samples=samples,
                             num_samples=None if samples else num_samples, return_sites=return_sites)
        return {name: to_numpy(value) for name, value in predict(*args, **kwargs).items()}


def pointwise_log_likelihood(model: Callable, args: tuple, kwargs: dict, *, posterior: dict, structure: ModelStructure,
                             seed: int = 0) -> dict:
    """log p(x_n | draw) for every observed site and draw, enumerated discrete latents summed out
    (see :func:`pgm_ppl.inference.numpyro_engine.pointwise_log_likelihood` for the formula). ``seed`` seeds
    any site the posterior does not fix (none, for a model whose latents are all in ``posterior``)."""
    observed = structure.names("observed")
    enumerated = structure.names("enumerated")
    num_draws = len(next(iter(posterior.values())))
    first_enum_dim = -structure.max_plate_nesting - 1
    result = {name: [] for name in observed}
    with seeded(seed), torch.no_grad():
        for i in range(num_draws):
            draw = {name: torch.as_tensor(value[i]) for name, value in posterior.items()}
            conditioned = poutine.enum(poutine.condition(model, data=draw), first_available_dim=first_enum_dim)
            tr = poutine.trace(conditioned).get_trace(*args, **kwargs)
            discrete = sum(tr.nodes[name]["fn"].log_prob(tr.nodes[name]["value"]) for name in enumerated)
            for name in observed:
                log_joint = tr.nodes[name]["fn"].log_prob(tr.nodes[name]["value"]) + discrete
                enum_axes = tuple(range(log_joint.dim() - structure.max_plate_nesting))
                result[name].append(torch.logsumexp(log_joint, dim=enum_axes) if enum_axes else log_joint)
    return {name: to_numpy(torch.stack(values)) for name, values in result.items()}


def non_finite_site(model: Callable, guide: Callable, args: tuple, kwargs: dict) -> str | None:
    """The first guide or model site whose log-density is not finite at the current parameters, or None."""
    with torch.no_grad(), pyro.validation_enabled(False):
        guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
        model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    for tr in (guide_trace, model_trace):
        for name, site in tr.nodes.items():
            if site["type"] == "sample" and not torch.isfinite(site["fn"].log_prob(site["value"])).all():
                return name
    return None
