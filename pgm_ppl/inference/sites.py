"""What a model's trace says about its sites: kinds, shapes and the plates that name their axes.

Both backends record the same fields in a trace (``type``, ``is_observed``, ``value``, ``fn``,
``cond_indep_stack``, ``infer``), so one description serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pgm_ppl.backend import to_numpy

if TYPE_CHECKING:
    from pyro.poutine import Trace


@dataclass(frozen=True)
class Site:
    """One sample or deterministic site of a model trace.

    ``dims`` names every axis of the site's value: plate names for batch axes inside a plate of the same
    size, ``"<site>_dim_<i>"`` for the others.
    """

    name: str
    kind: str  # "latent", "observed", "enumerated", "deterministic" or "factor"
    shape: tuple[int, ...]
    dims: tuple[str, ...]
    event_dim: int = 0
    value: np.ndarray | None = None

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape of the site's log-density: its value's shape less the event axes."""
        return self.shape[: len(self.shape) - self.event_dim]


@dataclass(frozen=True)
class ModelStructure:
    """The sites of a model, in trace order, and its deepest plate nesting."""

    sites: dict[str, Site]
    max_plate_nesting: int

    def names(self, *kinds: str) -> list[str]:
        """Names of the sites of the given kinds, in trace order."""
        return [name for name, site in self.sites.items() if site.kind in kinds]


def describe_trace(trace: Trace | Mapping[str, Mapping[str, Any]]) -> ModelStructure:
    """Build a :class:`ModelStructure` from a Pyro or NumPyro trace (an ordered mapping of sites)."""
    sites = {}
    nesting = 0
    for name, site in getattr(trace, "nodes", trace).items():
        if site["type"] not in ("sample", "deterministic") or type(site.get("fn")).__name__ == "_Subsample":
            continue  # Pyro records each plate's subsample indices as a sample site
        frames = [frame for frame in site.get("cond_indep_stack", ()) if frame.dim is not None]
        nesting = max([nesting] + [-frame.dim for frame in frames])
        value = to_numpy(site["value"])
        kind = _kind(site)
        event_dim = len(site["fn"].event_shape) if site["type"] == "sample" and kind != "deterministic" else 0
        sites[name] = Site(
            name=name,
            kind=kind,
            shape=value.shape,
            dims=_dims(name, value.shape, event_dim, frames),
            event_dim=event_dim,
            value=value if kind == "observed" else None,
        )
    return ModelStructure(sites, nesting)


def _kind(site) -> str:
    infer = site.get("infer") or {}
    if site["type"] == "deterministic" or infer.get("_deterministic"):  # Pyro: an observed Delta site
        return "deterministic"
    if type(site["fn"]).__name__ == "Unit":  # pyro.factor / numpyro.factor
        return "factor"
    if site["is_observed"]:
        return "observed"
    if infer.get("enumerate") == "parallel":
        return "enumerated"
    return "latent"


def _dims(name: str, shape: tuple[int, ...], event_dim: int, frames) -> tuple[str, ...]:
    batch_ndim = len(shape) - event_dim
    by_dim = {frame.dim: frame for frame in frames}
    dims = []
    for axis, size in enumerate(shape):
        frame = by_dim.get(axis - batch_ndim) if axis < batch_ndim else None
        dims.append(frame.name if frame is not None and frame.size == size else f"{name}_dim_{axis}")
    return tuple(dims)
