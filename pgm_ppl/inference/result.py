"""The one result type every engine returns: :class:`Fit`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Fit:
    """The outcome of :func:`pgm_ppl.fit`, as plain numpy arrays ready for ArviZ.

    Every array of ``posterior``, ``sample_stats``, ``log_likelihood``, ``prior``, ``prior_predictive``
    and ``posterior_predictive`` has shape ``(chain, draw, *site_shape)``.

    Attributes
    ----------
    method, backend : str
        The engine that produced the fit ("nuts", "hmc", "svi") and the backend it ran on.
    model : callable
        The model function, with ``args`` and ``kwargs`` the backend arrays it was called with.
    posterior : dict
        Draws of every latent and deterministic site. Enumerated discrete latents are summed out and
        therefore absent.
    sample_stats : dict
        Per-draw engine statistics (``diverging``, ``step_size``, ``tree_depth``, ``acceptance_rate``, ...).
    log_likelihood : dict
        Pointwise log-likelihood of each observed site, discrete latents summed out.
    observed_data, constant_data : dict
        The observed site values and the array arguments of the model.
    prior, prior_predictive, posterior_predictive : dict
        Draws of the latents under the prior, and of the observed sites under prior and posterior.
    dims : dict
        For each site, the names of its non-sample axes, taken from the enclosing plates.
    losses : ndarray or None
        The loss (negative ELBO) at every SVI step; None for samplers.
    point_estimate : bool
        True when ``posterior`` holds one point (MAP / delta guide) rather than draws.
    params : dict
        Learned parameters (SVI: guide parameters) as numpy arrays.
    seconds : float
        Wall-clock time of the inference itself (excluding predictive draws).
    """

    method: str
    backend: str
    model: Callable
    args: tuple
    kwargs: dict
    posterior: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray] = field(default_factory=dict)
    log_likelihood: dict[str, np.ndarray] = field(default_factory=dict)
    observed_data: dict[str, np.ndarray] = field(default_factory=dict)
    constant_data: dict[str, np.ndarray] = field(default_factory=dict)
    prior: dict[str, np.ndarray] = field(default_factory=dict)
    prior_predictive: dict[str, np.ndarray] = field(default_factory=dict)
    posterior_predictive: dict[str, np.ndarray] = field(default_factory=dict)
    dims: dict[str, list[str]] = field(default_factory=dict)
    losses: np.ndarray | None = None
    point_estimate: bool = False
    params: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    guide: Any = None

    @property
    def num_chains(self) -> int:
        """Number of chains (1 for SVI)."""
        return next(iter(self.posterior.values())).shape[0] if self.posterior else 0

    @property
    def num_draws(self) -> int:
        """Number of draws per chain."""
        return next(iter(self.posterior.values())).shape[1] if self.posterior else 0

    def to_inference_data(self):
        """Convert to :class:`arviz.InferenceData`; see :func:`pgm_ppl.diagnostics.to_inference_data`."""
        from pgm_ppl.diagnostics.convert import to_inference_data

        return to_inference_data(self)

    def __repr__(self) -> str:
        sites = ", ".join(f"{name}{tuple(value.shape[2:])}" for name, value in self.posterior.items())
        kind = "point estimate" if self.point_estimate else f"{self.num_chains} chains x {self.num_draws} draws"
        return f"Fit(method={self.method!r}, backend={self.backend!r}, {kind}: {sites})"
