r"""The change of variables in both directions (course eqs. (8.1)-(8.3), Exercise 8.4).

For :math:`x = T(u)`, :math:`u \sim p_u`, with :math:`T` a diffeomorphism,

.. math::
    \log p(x) = \log p_u\big(T^{-1}(x)\big) + \log\big|\det\nabla T^{-1}(x)\big|   \quad (8.2)
              = \log p_u(u) - \log\big|\det\nabla T(u)\big|                       \quad (8.3)

and for a composition :math:`T = T_K \circ \dots \circ T_1` with :math:`z_0 = u`, :math:`z_k = T_k(z_{k-1})`,
:math:`\log p(x) = \log p_u(u) - \sum_k \log|\det\nabla T_k(z_{k-1})|`. Any torch/Pyro transform works
(``T(u)``, ``T.inv(x)``, ``T.log_abs_det_jacobian(u, x)``), including :class:`~pgm_ppl.flows.FlowModel`'s.
These small functions spell out what :class:`pyro.distributions.TransformedDistribution` does, so a tutorial
can show each direction; models use the distribution itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pyro.distributions.torch_transform import ComposeTransformModule
from torch.distributions import ComposeTransform, Distribution, Transform
from torch.distributions.utils import _sum_rightmost

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int

__all__ = ["compose", "log_density_forward", "log_density_inverse", "pushforward"]

Transforms = Transform | Sequence[Transform]


def compose(*transforms: Transform) -> Transform:
    r""":math:`T = T_K \circ \dots \circ T_1` (apply ``transforms[0]`` first); log-determinants add up.

    A :class:`~pyro.distributions.torch_transform.ComposeTransformModule` when any layer has weights (so they
    register as parameters), else torch's :class:`~torch.distributions.ComposeTransform`.
    """
    if not transforms:
        raise ValueError("transforms: expected at least one transform, got none.")
    parts = list(transforms)
    if any(isinstance(t, torch.nn.Module) for t in parts):
        return ComposeTransformModule(parts)
    return ComposeTransform(parts)


def _one(transform: Transforms) -> Transform:
    return compose(*transform) if isinstance(transform, Sequence) else transform


def _event_sum(transform: Transform, ladj: torch.Tensor, event_dim: int) -> torch.Tensor:
    """Sum an element-wise log-determinant over the event dimensions the transform does not cover."""
    return _sum_rightmost(ladj, event_dim - transform.domain.event_dim)


def log_density_inverse(base: Distribution, transform: Transforms, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log p(x)` by the normalising direction (8.2): :math:`u = T^{-1}(x)`, then
    :math:`\log p_u(u) - \log|\det\nabla T(u)|`.

    Parameters
    ----------
    base
        :math:`p_u`, a distribution whose event shape is that of ``x``'s rows.
    transform
        :math:`T` (or a sequence of layers, applied in order).
    x
        Points, shape ``(..., *event_shape)``.

    Returns
    -------
    torch.Tensor
        Log-densities in nats, shape ``x.shape[:-event_dim]``.
    """
    T = _one(transform)
    u = T.inv(x)
    event_dim = len(base.event_shape)
    return base.log_prob(u) - _event_sum(T, T.log_abs_det_jacobian(u, x), event_dim)


def log_density_forward(base: Distribution, transform: Transforms,
                        u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`x = T(u)` and :math:`\log p(x) = \log p_u(u) - \sum_k \log|\det\nabla T_k(z_{k-1})|` (8.3).

    No inverse is needed, so this also works for flows without one (planar, radial). With a sequence of layers
    the log-determinants are accumulated layer by layer (Exercise 8.4).

    Returns
    -------
    (x, log_prob)
        ``x`` of ``u``'s shape and its log-density in nats, shape ``u.shape[:-event_dim]``.
    """
    layers = list(transform) if isinstance(transform, Sequence) else [transform]
    event_dim = len(base.event_shape)
    log_prob = base.log_prob(u)
    z = u
    for layer in layers:
        z_next = layer(z)
        log_prob = log_prob - _event_sum(layer, layer.log_abs_det_jacobian(z, z_next), event_dim)
        z = z_next
    return z, log_prob


def pushforward(base: Distribution, transform: Transforms, num_samples: int, *, seed: int = 0) -> torch.Tensor:
    r"""``num_samples`` draws of :math:`x = T(u)`, :math:`u \sim p_u` (course eq. (8.1)), shape
    ``(num_samples, *event_shape)``; seeded, leaving the caller's torch generator alone."""
    check_int(num_samples, "num_samples")
    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed), torch.no_grad():
        return _one(transform)(base.sample((num_samples,)))
