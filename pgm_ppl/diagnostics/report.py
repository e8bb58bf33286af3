"""Posterior diagnosis: the ArviZ summary plus plain-language warnings about convergence and fit."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd


# ArviZ 0.x logs through its own Logger instance (not logging.getLogger("arviz"), which is another object)
_ARVIZ_LOG = getattr(az, "_log", None) or logging.getLogger("arviz")


@dataclass(frozen=True)
class Diagnosis:
    """The ArviZ summary table and the warnings it raises, one sentence each."""

    summary: pd.DataFrame
    warnings: tuple[str, ...]

    def __str__(self) -> str:
        lines = [self.summary.to_string(), ""]
        lines += [f"WARNING: {text}" for text in self.warnings] or ["No warnings."]
        return "\n".join(lines)


def diagnose(idata: az.InferenceData, *, rhat_max: float = 1.01, min_ess_per_chain: int = 100,
             pareto_k_max: float = 0.7, min_loo_draws: int = 100) -> Diagnosis:
    """Summarise the posterior and flag what needs attention.

    Warnings, with the thresholds of Vehtari et al. (2021) and Vehtari, Gelman & Gabry (2017):
    R-hat above ``rhat_max`` (only with 2+ chains), any divergent transition, bulk or tail ESS below
    ``min_ess_per_chain`` per chain, and Pareto k above ``pareto_k_max`` in PSIS-LOO. PSIS-LOO is not run on a
    log-likelihood of fewer than ``min_loo_draws`` draws (a thinned one, ``pgm-ppl fit --pointwise auto`` on
    large data), where the k estimates mean nothing; a warning says so instead.
    """
    posterior = idata.posterior
    num_chains = posterior.sizes["chain"]
    point = bool(posterior.attrs.get("point_estimate", 0))
    independent = str(posterior.attrs.get("method", "")) == "svi"  # guide draws: no chain, nothing to converge
    kind = "stats" if point or independent or num_chains * posterior.sizes["draw"] < 4 else "all"
    with warnings.catch_warnings(), _quiet(_ARVIZ_LOG):
        warnings.simplefilter("ignore")
        summary = az.summary(idata, kind=kind)
    if num_chains < 2 and "r_hat" in summary:  # R-hat needs two chains; ArviZ fills it with NaN
        summary = summary.drop(columns="r_hat")
    found = []
    if not point and "r_hat" in summary and num_chains > 1:
        high = summary.index[summary["r_hat"] > rhat_max]
        if len(high):
            found.append(f"R-hat > {rhat_max} for {len(high)} parameter(s) ({_few(high)}): chains disagree; "
                         "run longer or reparameterise.")
    if "sample_stats" in idata and "diverging" in idata.sample_stats:
        count = int(idata.sample_stats["diverging"].sum())
        if count:
            found.append(f"{count} divergent transition(s): the posterior has regions the sampler cannot "
                         "explore; raise target_accept_prob or reparameterise.")
    if not point and "ess_bulk" in summary:
        low = summary.index[(summary["ess_bulk"] < min_ess_per_chain * num_chains)
                            | (summary["ess_tail"] < min_ess_per_chain * num_chains)]
        if len(low):
            found.append(f"ESS below {min_ess_per_chain * num_chains} for {len(low)} parameter(s) "
                         f"({_few(low)}): draw more samples.")
    if "log_likelihood" in idata and not point:
        found += _pareto_warnings(idata, pareto_k_max, min_loo_draws)
    return Diagnosis(summary, tuple(found))


def _pareto_warnings(idata: az.InferenceData, pareto_k_max: float, min_draws: int = 100) -> list[str]:
    found = []
    draws = idata.log_likelihood.sizes["chain"] * idata.log_likelihood.sizes["draw"]
    if draws < min_draws:
        return [f"PSIS-LOO not checked: the log-likelihood holds {draws} draws, fewer than {min_draws} (it was "
                "thinned to bound the output size; rerun with --pointwise full, or on fewer rows, to check it)."]
    for name in idata.log_likelihood.data_vars:
        with warnings.catch_warnings(), _quiet(_ARVIZ_LOG):
            warnings.simplefilter("ignore")
            loo = az.loo(idata, var_name=name, pointwise=True)
        k = np.asarray(loo.pareto_k)
        if (k > pareto_k_max).any():
            found.append(f"Pareto k > {pareto_k_max} for {(k > pareto_k_max).sum()} of {k.size} observations of "
                         f"{name!r}: PSIS-LOO is unreliable there (influential points or a misfit model).")
    return found


def _few(names, limit: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


@contextmanager
def _quiet(logger: logging.Logger):
    """Silence ``logger`` below ERROR for the block: ArviZ logs "Shape validation failed" for one chain."""
    level = logger.level
    logger.setLevel(logging.ERROR)
    # ArviZ's Logger is built directly, outside logging's manager, so setLevel does not clear its isEnabledFor
    # cache: a WARNING allowed once stays allowed. Clear it on the way in and out.
    _clear_level_cache(logger)
    try:
        yield
    finally:
        logger.setLevel(level)
        _clear_level_cache(logger)


def _clear_level_cache(logger: logging.Logger) -> None:
    cache = getattr(logger, "_cache", None)
    if isinstance(cache, dict):
        cache.clear()
