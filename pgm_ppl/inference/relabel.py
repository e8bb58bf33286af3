"""Label alignment of mixture posteriors (the label-switching problem).

A mixture's posterior is invariant to permuting its components, so each chain of a sampler settles
in one of K! symmetric modes. We relabel every draw with the permutation
:math:`\\sigma_s = \\arg\\min_\\sigma \\sum_k \\lVert \\mu^{(s)}_{\\sigma(k)} - \\bar\\mu_k \\rVert^2`
that best matches a reference :math:`\\bar\\mu` (Hungarian algorithm), then recompute the reference as
the mean of the relabelled draws, twice (Stephens 2000, in its simplest squared-distance form).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from pgm_ppl.backend.annotations import ExchangeableComponents


def align_components(posterior: dict[str, np.ndarray], spec: ExchangeableComponents,
                     num_passes: int = 2) -> dict[str, np.ndarray]:
    """Relabel the component axes of ``posterior`` (arrays ``(chain, draw, ...)``) consistently.

    Parameters
    ----------
    posterior
        Draws by site name, each of shape ``(chain, draw, *site_shape)``.
    spec
        Which site identifies components (``spec.by``) and the component axis of each site
        (``spec.sites``, counted within the site's own shape; a tuple permutes every axis it names,
        as a transition matrix :math:`A_{kl}` needs).
    num_passes
        How many times the reference is recomputed from the relabelled draws.

    Returns
    -------
    dict
        A new dict; sites not named in ``spec.sites`` are returned unchanged.
    """
    key = posterior[spec.by]
    chains, draws = key.shape[:2]
    axis = spec.sites[spec.by]
    flat = np.moveaxis(key, 2 + axis, 2).reshape(chains * draws, key.shape[2 + axis], -1)
    reference = flat[:draws].mean(axis=0)
    order = np.tile(np.arange(flat.shape[1]), (len(flat), 1))
    for _ in range(num_passes):
        cost = ((flat[:, :, None, :] - reference[None, None, :, :]) ** 2).sum(-1)  # (S, draw comp, ref comp)
        order = np.stack([linear_sum_assignment(c.T)[1] for c in cost])  # ref comp k <- draw comp order[k]
        reference = np.take_along_axis(flat, order[:, :, None], axis=1).mean(axis=0)
    canonical = np.lexsort(reference.T[::-1])  # components sorted by the reference's first coordinate
    order = order[:, canonical]
    aligned = dict(posterior)
    for name, site_axes in spec.sites.items():
        if name in posterior:
            for site_axis in (site_axes,) if isinstance(site_axes, int) else site_axes:
                aligned[name] = _permute(aligned[name], order.reshape(chains, draws, -1), 2 + site_axis)
    return aligned


def _permute(values: np.ndarray, order: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(values, axis, 2)
    index = order.reshape(order.shape + (1,) * (moved.ndim - 3))
    return np.moveaxis(np.take_along_axis(moved, index, axis=2), 2, axis)
