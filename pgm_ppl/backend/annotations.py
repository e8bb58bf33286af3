"""Annotations a model function can carry for the engines, declared next to the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ExchangeableComponents:
    """The model's components are exchangeable (label switching): which sites carry a component axis.

    ``sites`` maps each site to the axis of its value that indexes components, or to a tuple of axes
    when several do (an HMM's transition matrix is indexed by states along both axes); ``by`` names the
    site whose values identify a component (a mixture's means).
    """

    by: str
    sites: dict[str, int | tuple[int, ...]]


def exchangeable_components(*, by: str, sites: dict[str, int | tuple[int, ...]]) -> Callable[[Callable], Callable]:
    """Mark a mixture model so that ``fit`` aligns component labels across draws and chains.

    The likelihood of a K-component mixture is invariant to the K! relabellings of its components, so
    separate chains settle on different labellings and R-hat across chains is meaningless. ``fit``
    relabels each draw by the permutation that best matches a reference (see
    :func:`pgm_ppl.inference.relabel.align_components`).

    Examples
    --------
    >>> @exchangeable_components(by="mu", sites={"pi": 0, "mu": 0})
    ... def mixture(x): ...
    >>> mixture.exchangeable_components.by
    'mu'
    """

    def mark(model: Callable) -> Callable:
        model.exchangeable_components = ExchangeableComponents(by, dict(sites))
        return model

    return mark
