r"""Flows as variational families (course §8.1 with chapter 3's VI): :func:`flow_guide`.

A posterior that mean-field misses (Neal's funnel, a banana) is fitted by a guide
:math:`q_\phi(z) = T_{\phi\#}\mathcal N(0, I)` over the model's whole (unconstrained) latent vector:

* on Pyro, Pyro's own :class:`~pyro.infer.autoguide.AutoNormalizingFlow` with one of our flows (zuko's IAF, MAF,
  NSF, RealNVP, or Pyro's planar and radial layers) as its transform;
* on NumPyro, NumPyro's :class:`~numpyro.infer.autoguide.AutoIAFNormal` and
  :class:`~numpyro.infer.autoguide.AutoBNAFNormal` (block neural autoregressive flow).

Pass the guide to :func:`pgm_ppl.inference.fit` (``method="svi", guide=flow_guide(model, ...)``) and compare
with NUTS on the same ArviZ summary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgm_ppl.core.validation import check_choice, check_int

__all__ = ["PYRO_FLOWS", "NUMPYRO_FLOWS", "flow_guide"]

PYRO_FLOWS = ("iaf", "maf", "nsf", "realnvp", "planar", "radial")
NUMPYRO_FLOWS = ("iaf", "bnaf")


def flow_guide(model: Callable, flow: str = "iaf", *, backend: str = "pyro", seed: int = 0,
               **flow_options: Any) -> Any:
    r"""A normalising-flow guide for ``model``'s latent sites, for ``fit(method="svi", guide=...)``.

    Parameters
    ----------
    model
        The model the guide approximates the posterior of (the one passed to ``fit``).
    flow
        On Pyro: ``"iaf"`` (default: one pass per sample, as VI needs), ``"maf"``, ``"nsf"``, ``"realnvp"``,
        ``"planar"`` or ``"radial"`` (see :mod:`pgm_ppl.flows.learned`); on NumPyro: ``"iaf"`` or ``"bnaf"``.
    backend
        ``"pyro"`` or ``"numpyro"``: the backend ``fit`` will run on.
    seed
        The flow's initial weights (Pyro; NumPyro's guide is initialised from ``fit``'s seed).
    **flow_options
        The flow factory's options (``transforms``, ``hidden_features``, ``bins``, ...) on Pyro; NumPyro's
        ``num_flows``, ``hidden_dims``, ... on NumPyro.

    Returns
    -------
    AutoNormalizingFlow or numpyro AutoIAFNormal / AutoBNAFNormal
        The guide; its flow is built on the first call, when the latent dimension is known. A latent vector of
        dimension 1 needs ``"iaf"``, ``"maf"``, ``"nsf"``, ``"planar"`` or ``"radial"`` (a coupling needs two).

    Raises
    ------
    ValueError
        An unknown backend or flow name (the message lists the valid ones).
    """
    check_choice(backend, "backend", ("pyro", "numpyro"))
    check_int(seed, "seed", minimum=0)
    if backend == "numpyro":
        check_choice(flow, "flow", NUMPYRO_FLOWS)
        from numpyro.infer import autoguide

        return (autoguide.AutoIAFNormal if flow == "iaf" else autoguide.AutoBNAFNormal)(model, **flow_options)
    check_choice(flow, "flow", PYRO_FLOWS)
    from pyro.infer.autoguide import AutoNormalizingFlow

    from pgm_ppl.flows import learned
    from pgm_ppl.flows.base import realnvp

    factory = realnvp if flow == "realnvp" else getattr(learned, flow)

    def init_transform(latent_dim: int) -> Any:
        return factory(latent_dim, seed=seed, **flow_options).transform()

    return AutoNormalizingFlow(model, init_transform)
