r"""Learned flows (course rows 8.7-8.8): autoregressive, spline, planar and radial flows as :class:`FlowModel` s.

Built on zuko (Rozet et al.), which is maintained and which Pyro's own tutorials recommend (Pyro's
``pyro.distributions.transforms`` flows are frozen): MAF, IAF and neural spline flows are zuko's masked
autoregressive networks and rational-quadratic splines, turned into Pyro transforms by
:class:`~pgm_ppl.flows.zuko_transform.ZukoTransform`. Planar and radial flows exist only in Pyro
(``pyro.distributions.transforms.Planar`` / ``Radial``) and are taken from there; they have no closed-form inverse,
so they serve as variational families (densities of their own samples), not as density estimators of data.

Each factory takes ``context_features`` (a conditional flow :math:`p(x \mid c)`, trained on ``data=(X, c)``)
and ``seed``: the initial weights are drawn under :func:`~pgm_ppl.backend.seeding.torch_seeded` ``(seed)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import zuko
from pyro.distributions import transforms as pyro_transforms

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.flows.base import FlowModel, _hidden

__all__ = ["iaf", "maf", "monotone_spline", "nsf", "planar", "radial"]


def maf(features: int, *, transforms: int = 3, hidden_features: int | Sequence[int] = (64, 64),
        context_features: int = 0, seed: int = 0) -> FlowModel:
    r"""A masked autoregressive flow (MAF; Papamakarios, Pavlakou and Murray 2017), built by zuko.

    Each layer is an affine autoregressive map in the normalising direction,
    :math:`u_i = (x_i - \mu_i(x_{<i}, c)) \exp(-\alpha_i(x_{<i}, c))`, with :math:`\mu, \alpha` from one masked
    MLP (MADE); the Jacobian is triangular, so :math:`\log p(x)` takes one network pass and sampling takes
    ``features`` passes. Layers alternate the variable order.

    Raises
    ------
    ValueError, TypeError
        ``features``, ``transforms`` or ``hidden_features`` below 1, ``context_features`` or ``seed`` below 0.
    """
    _check(features, transforms, context_features, seed)
    with torch_seeded(seed):
        flow = zuko.flows.MAF(features, context_features, transforms=transforms,
                              hidden_features=_hidden(hidden_features))
    return FlowModel(flow, features, context_features=context_features)


def iaf(features: int, *, transforms: int = 3, hidden_features: int | Sequence[int] = (64, 64),
        context_features: int = 0, seed: int = 0) -> FlowModel:
    r"""An inverse autoregressive flow (IAF; Kingma et al. 2016): a MAF run the other way round.

    The generative direction is the one-pass affine autoregressive map
    :math:`x_i = \mu_i(u_{<i}, c) + \sigma_i(u_{<i}, c)\, u_i`, so sampling and the density of the flow's own
    samples are fast (a variational family), while the density of arbitrary data takes ``features`` passes.
    Built from zuko's MAF layers, each inverted (:class:`zuko.lazy.LazyInverse`).
    """
    _check(features, transforms, context_features, seed)
    with torch_seeded(seed):
        flow = zuko.flows.MAF(features, context_features, transforms=transforms,
                              hidden_features=_hidden(hidden_features))
    inverted = zuko.lazy.Flow([layer.inv for layer in reversed(flow.transform.transforms)], flow.base)
    return FlowModel(inverted, features, context_features=context_features)


def nsf(features: int, *, transforms: int = 3, bins: int = 8, hidden_features: int | Sequence[int] = (64, 64),
        passes: int | None = None, context_features: int = 0, seed: int = 0) -> FlowModel:
    r"""A neural spline flow (NSF; Durkan et al. 2019): autoregressive monotone rational-quadratic splines.

    Each coordinate is mapped by a monotone rational-quadratic spline with ``bins`` bins on :math:`[-5, 5]`
    (identity outside: standardise the data), whose knots come from a masked MLP of the previous coordinates
    (and :math:`c`). ``passes=None`` is fully autoregressive; ``passes=2`` is the coupling version (fast in both
    directions). Built by zuko's ``NSF``.
    """
    _check(features, transforms, context_features, seed)
    check_int(bins, "bins", minimum=2)
    if passes is not None:
        check_int(passes, "passes", minimum=1)
    with torch_seeded(seed):
        flow = zuko.flows.NSF(features, context_features, bins=bins, transforms=transforms, passes=passes,
                              hidden_features=_hidden(hidden_features))
    return FlowModel(flow, features, context_features=context_features)


def planar(features: int, *, transforms: int = 4, seed: int = 0) -> FlowModel:
    r"""Planar flow (Rezende and Mohamed 2015), Pyro's ``Planar`` layers:
    :math:`x = u + a\, h(w^\top u + b)` with :math:`h = \tanh`, :math:`\log|\det| = \log|1 + a^\top h'(\cdot) w|`.

    No closed-form inverse: the density is available for the flow's own samples only (a variational family,
    e.g. in :func:`pgm_ppl.flows.flow_guide`), not for data.
    """
    check_int(features, "features")
    check_int(transforms, "transforms")
    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):
        layers = [pyro_transforms.planar(features) for _ in range(transforms)]
    return FlowModel(layers, features)


def radial(features: int, *, transforms: int = 4, seed: int = 0) -> FlowModel:
    r"""Radial flow (Rezende and Mohamed 2015), Pyro's ``Radial`` layers:
    :math:`x = u + \beta\, h(\alpha, r)(u - u_0)`, :math:`h = 1 / (\alpha + r)`, :math:`r = \lVert u - u_0\rVert`.

    Like :func:`planar`, a variational family: densities of its own samples only.
    """
    check_int(features, "features")
    check_int(transforms, "transforms")
    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):
        layers = [pyro_transforms.radial(features) for _ in range(transforms)]
    return FlowModel(layers, features)


def monotone_spline(*, count_bins: int = 8, bound: float = 4.0, seed: int = 0,
                    dtype: torch.dtype = torch.float64) -> pyro_transforms.Spline:
    r"""A learnable monotone map :math:`g: \mathbb R \to \mathbb R` (one-dimensional flow layer).

    Pyro's element-wise rational-quadratic ``Spline`` (Durkan et al. 2019; linear-rational in Pyro) with
    ``count_bins`` bins on :math:`[-\mathrm{bound}, \mathrm{bound}]` and the identity outside; strictly
    increasing, with exact inverse and :math:`\log g'(y)`. It acts on tensors of shape ``(n, 1)``. This is the
    warping of :func:`pgm_ppl.gp.train_warped` (course row 8.23, warped GPs).
    """
    check_int(count_bins, "count_bins", minimum=2)
    check_positive(bound, "bound")
    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):  # Spline draws its initial parameters from torch's generator
        return pyro_transforms.Spline(1, count_bins=count_bins, bound=float(bound)).to(dtype)


def _check(features: int, transforms: int, context_features: int, seed: int) -> None:
    check_int(features, "features")
    check_int(transforms, "transforms")
    check_int(context_features, "context_features", minimum=0)
    check_int(seed, "seed", minimum=0)
