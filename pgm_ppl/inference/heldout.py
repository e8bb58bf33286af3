r"""The held-out density of a Bayesian model fitted by :func:`pgm_ppl.fit`: its posterior predictive.

For posterior draws :math:`\theta_1, \dots, \theta_S` (all chains pooled), a new row :math:`\tilde x_n` has the
Monte Carlo posterior predictive density

.. math::
    \log \hat p(\tilde x_n \mid x) = \log \frac1S \sum_{s=1}^S p(\tilde x_n \mid \theta_s)
    = \operatorname{logsumexp}_s \log p(\tilde x_n \mid \theta_s) - \log S,

whose sum over held-out rows is the held-out expected log predictive density (elpd) of Vehtari, Gelman &
Gabry (2017), eq. (1). :func:`pgm_ppl.diagnostics.compare_heldout` ranks it beside exact densities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp

from pgm_ppl.backend import to_backend, use_backend
from pgm_ppl.core.seeding import spawn_seeds, stream
from pgm_ppl.core.validation import check_int
from pgm_ppl.inference.engines import engine as backend_engine
from pgm_ppl.inference.inputs import model_inputs
from pgm_ppl.inference.sites import ModelStructure

__all__ = ["PosteriorPredictiveDensity"]



@dataclass(frozen=True)
class PosteriorPredictiveDensity:
    r"""Posterior predictive log-density and sampler of a model fitted by :func:`pgm_ppl.fit`.

    Every :class:`~pgm_ppl.core.result.Fit` returned by ``fit`` carries one as ``fit.density``, so
    ``fit.log_prob(new_data)`` and ``fit.sample(n, seed)`` work on new data.

    Parameters
    ----------
    model
        The model function that was fitted.
    backend
        ``"numpyro"`` or ``"pyro"``: the backend it ran on.
    draws
        Posterior draws of the latent sites, each of shape ``(S, *site_shape)`` (chains and draws pooled).
        Deterministic sites are recomputed by the model; enumerated discrete latents are summed out.
    observed
        Names of the observed sites in the fit.
    model_kwargs
        The model options given to ``fit`` (``model_kwargs``), passed again with every new data set.
    event_shapes
        The shape of one row of each observed site in the training data (a site's rows are its first axis).

    Attributes
    ----------
    kind : str
        ``"posterior_predictive"``: :meth:`log_prob` is :math:`\log \frac1S \sum_s p(\tilde x_n \mid \theta_s)`.

    Notes
    -----
    The draws are substituted into the model run on the new arguments, so held-out evaluation needs a model
    whose latents are all global (or enumerated): a continuous latent per data row (a local latent) has no
    draw for a new row, and :meth:`log_prob` refuses it with a message naming the site. With a point
    estimate (SVI with ``auto_delta``) :math:`S = 1` and the density is the plug-in :math:`p(\tilde x_n \mid
    \hat\theta)`.

    References
    ----------
    Vehtari, A., Gelman, A. & Gabry, J. (2017). Practical Bayesian model evaluation using leave-one-out
    cross-validation and WAIC. *Statistics and Computing* 27, 1413-1432.
    """

    model: Callable
    backend: str
    draws: dict[str, np.ndarray]
    observed: tuple[str, ...]
    model_kwargs: dict = field(default_factory=dict)
    event_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    kind: str = "posterior_predictive"

    @classmethod
    def from_posterior(cls, model: Callable, backend: str, posterior: dict[str, np.ndarray],
                       structure: ModelStructure, model_kwargs: dict | None = None) -> PosteriorPredictiveDensity:
        """Build the density from ``fit``'s ``(chain, draw, ...)`` posterior and the model's structure."""
        latent = structure.names("latent")
        draws = {name: value.reshape((-1,) + value.shape[2:]) for name, value in posterior.items()
                 if name in latent}
        observed = tuple(structure.names("observed"))
        shapes = {name: tuple(structure.sites[name].shape[1:]) for name in observed}
        return cls(model, backend, draws, observed, dict(model_kwargs or {}), shapes)

    @property
    def num_draws(self) -> int:
        """S, the number of posterior draws averaged over."""
        return len(next(iter(self.draws.values()))) if self.draws else 1

    @property
    def event_shape(self) -> tuple[int, ...] | None:
        """The shape of one row of the observed site (None when the model has several observed sites)."""
        return self.event_shapes[self.observed[0]] if len(self.observed) == 1 else None

    def log_prob(self, x: Any) -> np.ndarray:
        r"""Per-row posterior predictive log-density of new data, shape ``(n,)``, in nats.

        .. math::
            \log \hat p(\tilde x_n \mid x) = \operatorname{logsumexp}_{s=1}^{S}
            \sum_{j \in \text{obs}} \log p(\tilde x_{j,n} \mid \theta_s) - \log S,

        where :math:`j` runs over the observed sites (with several observed sites their log-likelihoods are
        summed per row, i.e. the joint predictive of the row) and over the further batch axes of a row
        (nested plates). Rows are the first axis of the observed site.

        Parameters
        ----------
        x
            New data in the form ``fit`` took its ``data``: a dict of keyword arguments, a tuple of positional
            arguments, or one array (the first positional argument); every observed site must be given.

        Raises
        ------
        ValueError
            For bad data (empty, non-finite), an observed site left unobserved, a local latent, or observed
            sites with different numbers of rows.
        """
        engine, args, kwargs, structure = self._prepare(x)
        with use_backend(self.backend):
            loglik = engine.pointwise_log_likelihood(self.model, args, kwargs, posterior=self.draws,
                                                     structure=structure)
        per_row = [self._rows(name, np.asarray(loglik[name], dtype=np.float64)) for name in self.observed]
        if len({value.shape[1] for value in per_row}) > 1:
            rows = ", ".join(f"{name!r}: {value.shape[1]}" for name, value in zip(self.observed, per_row))
            raise ValueError(f"observed sites have different numbers of rows ({rows}); a per-row held-out "
                             "density needs one row index shared by every observed site.")
        return logsumexp(sum(per_row), axis=0) - np.log(self.num_draws)

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        r"""``num_samples`` independent rows from the posterior predictive of the training design.

        Each row draws :math:`\theta \sim` the posterior draws (uniformly), a row index :math:`n` uniformly
        among the training rows, and :math:`\tilde x \sim p(x_n \mid \theta)` through the engine's
        ``Predictive``; for an i.i.d. model this is the posterior predictive of a new observation. Seeds come
        from :func:`pgm_ppl.core.seeding.stream` (purpose ``"sample"``). Shape ``(num_samples, *row_shape)``.

        Raises
        ------
        ValueError
            When the model has several observed sites: use :meth:`sample_sites`.
        """
        if len(self.observed) != 1:
            raise ValueError(f"the model has {len(self.observed)} observed sites {list(self.observed)}; "
                             "sample() returns one array: use sample_sites() for a dict of all of them.")
        return self.sample_sites(num_samples, seed)[self.observed[0]]

    def sample_sites(self, num_samples: int, seed: int = 0, *, data: Any = None) -> dict[str, np.ndarray]:
        """Posterior predictive rows of every observed site, each ``(num_samples, *row_shape)``.

        ``data`` gives the model's arguments (covariates) to predict at, in ``fit``'s form; the observed values
        in it are ignored (resampled). Without it, the model is called with one placeholder row of the
        training row shape as its only argument, which suits a model ``model(x)`` of i.i.d. rows; a model with
        covariates needs ``data``.
        """
        num_samples = check_int(num_samples, "num_samples")
        index_seed, draw_seed = spawn_seeds(stream(seed, "sample"), 2)
        if data is None:
            data = self._placeholder_data()
        engine, args, kwargs, structure = self._prepare(data, require_observed=False)
        rng = np.random.default_rng(index_seed)
        chosen = rng.integers(self.num_draws, size=num_samples)
        draws = {name: value[chosen] for name, value in self.draws.items()}
        if not draws:  # a model without global latents: one prior-predictive run per sample
            draws = None
        with use_backend(self.backend):
            values = engine.predictive(self.model, args, kwargs, seed=draw_seed, posterior=draws,
                                       num_samples=num_samples, return_sites=list(self.observed))
        out = {}
        for name in self.observed:
            value = np.asarray(values[name]).reshape((num_samples,) + structure.sites[name].shape)
            rows = rng.integers(value.shape[1], size=num_samples) if value.ndim > 1 else None
            out[name] = value if rows is None else value[np.arange(num_samples), rows]
        return out

    def _placeholder_data(self) -> Any:
        if len(self.observed) != 1:
            raise ValueError("sample_sites: a model with several observed sites needs its arguments: pass data=.")
        return np.zeros((1,) + self.event_shapes[self.observed[0]])

    def _prepare(self, x: Any, *, require_observed: bool = True) -> tuple[Any, tuple, dict, ModelStructure]:
        """Validated backend arguments and the model's structure on them, checked against the posterior."""
        engine = backend_engine(self.backend)
        args, kwargs = model_inputs(x, self.model_kwargs)
        with use_backend(self.backend):
            args, kwargs = to_backend(args, self.backend), to_backend(kwargs, self.backend)
            structure = engine.model_structure(self.model, args, kwargs, 0)
        missing = [name for name in self.observed if structure.sites.get(name) is None
                   or (require_observed and structure.sites[name].kind != "observed")]
        if missing:
            raise ValueError(f"new data: the observed site(s) {missing} of the fit are not observed with these "
                             "arguments; pass their values in the same form as fit's data.")
        for name, value in self.draws.items():
            site = structure.sites.get(name)
            if site is not None and site.shape != value.shape[1:]:
                raise ValueError(f"latent site {name!r} has shape {site.shape} on the new data but "
                                 f"{value.shape[1:]} in the posterior: it is a local latent (one per data "
                                 "row), so the posterior has no draw for new rows; a held-out density needs "
                                 "global (or enumerated) latents.")
        return engine, args, kwargs, structure

    def _rows(self, name: str, value: np.ndarray) -> np.ndarray:
        """``(S, rows)``: one site's log-likelihood summed over the batch axes after the row axis."""
        if value.ndim == 1:  # a site outside any plate: one row
            return value[:, None]
        return value.reshape(value.shape[:2] + (-1,)).sum(axis=2)
