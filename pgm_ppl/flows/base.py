r"""A normalising flow as a Pyro model: :class:`FlowModel` (course chapter 8, eqs. (8.1)-(8.3)).

A flow pushes a base density :math:`p_u` (standard normal) through an invertible map :math:`T`, so
:math:`x = T(u)` has the exact log-density of the change of variables (8.2),

.. math::
    \log p_x(x) = \log p_u\big(T^{-1}(x)\big) + \log \big|\det \nabla T^{-1}(x)\big|.

The model is Pyro's own :class:`~pyro.distributions.TransformedDistribution` of the base through Pyro transforms:
zuko's learned transforms through :class:`~pgm_ppl.flows.zuko_transform.ZukoTransform` (zuko is maintained;
Pyro's own flows are frozen and its tutorials point to zuko), Pyro's planar and radial layers, the closed-form
maps of :mod:`pgm_ppl.flows.closed_form`, or a continuous flow. As a Pyro object the flow samples, has
``log_prob``, is the likelihood of a model whose data are observed (maximum likelihood = the ELBO with an empty
guide, run by :func:`pgm_ppl.training.train`), and can serve as a prior, likelihood or variational family in any
Pyro model. A conditional flow (context = labels or covariates) trains on ``data=(X, context)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyro
import pyro.distributions as dist
import torch
import zuko
from pyro.distributions.torch_transform import ComposeTransformModule
from pyro.distributions.transforms.planar import ConditionedPlanar
from pyro.distributions.transforms.radial import ConditionedRadial
from pyro.distributions.transforms.sylvester import Sylvester
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int
from pgm_ppl.flows._rows import as_rows, reference_tensor
from pgm_ppl.flows.zuko_transform import ZukoTransform

__all__ = ["FlowModel", "realnvp"]

# Pyro's layers whose inverse exists only for the layer's own outputs (read from its cache): no density of data.
_CACHE_ONLY_INVERSE = (ConditionedPlanar, ConditionedRadial, Sylvester)


class FlowModel(nn.Module):
    r"""A flow :math:`x = T(u)`, :math:`u \sim \mathcal N(0, I_d)`, as a Pyro model over rows of data.

    Parameters
    ----------
    transform
        The generative map :math:`T: u \mapsto x`: a Pyro transform or transform module, or a sequence of them
        applied in order (:math:`T = T_K \circ \dots \circ T_1`, log-determinants summed, course Exercise 8.4),
        or a zuko flow (:class:`zuko.lazy.Flow`, whose base must be the standard normal of zuko's factories).
    features
        :math:`d`, the dimension of :math:`x` (read from a zuko flow when not given).
    context_features
        The width of the context :math:`c` of a conditional flow (0: unconditional). Every transform of a
        conditional flow must offer ``with_context(c)``, as :class:`ZukoTransform` and the continuous flow do.

    Notes
    -----
    ``model(batch)`` observes each row of ``x`` (``batch`` is ``x`` of shape ``(n, features)``, or ``(x, c)``
    with ``c`` of shape ``(n, context_features)``) under the flow inside a ``"data"`` plate; with no guide the
    ELBO is exactly :math:`-\sum_n \log p_x(x_n)` (nats), so training by the ELBO is maximum likelihood.
    ``log_prob`` is exact (``log_prob_kind = "exact"``). A flow with Pyro's planar, radial or Sylvester layers
    has no inverse, so it has a density for its own latest samples only: it is a variational family (a guide),
    and ``model``/``log_prob`` on data raise a ``ValueError`` saying so.
    """

    log_prob_kind = "exact"

    def __init__(self, transform: Any, features: int | None = None, *, context_features: int = 0) -> None:
        super().__init__()
        if isinstance(transform, zuko.lazy.Flow):
            features = features if features is not None else _zuko_features(transform)
            transform = ZukoTransform(transform.transform)
        if features is None:
            raise ValueError("features: expected the dimension d of x (an integer >= 1), got None.")
        self.features = check_int(features, "features")
        self.context_features = check_int(context_features, "context_features", minimum=0)
        parts = list(transform) if isinstance(transform, Sequence) else [transform]
        self.transforms = nn.ModuleList([t for t in parts if isinstance(t, nn.Module)])
        self._parts = parts
        self._seen_context: torch.Tensor | None = None  # the last observed batch's contexts (see sample)
        self.invertible = not any(isinstance(t, _CACHE_ONLY_INVERSE) for t in parts)
        self.register_buffer("loc", torch.zeros(self.features))
        self.register_buffer("scale", torch.ones(self.features))

    def base(self) -> dist.Distribution:
        """The base :math:`p_u = \\mathcal N(0, I_d)` (event shape ``(d,)``)."""
        return dist.Normal(self.loc, self.scale).to_event(1)

    def distribution(self, context: torch.Tensor | None = None) -> dist.TransformedDistribution:
        """The flow's law :math:`T_\\# p_u` (given ``context`` for a conditional flow) as a Pyro distribution."""
        if self.context_features and context is None:
            raise ValueError(f"context: expected a tensor of shape (n, {self.context_features}) for this "
                             "conditional flow, got None; pass data=(X, context).")
        parts = self._parts if context is None else [t.with_context(context) for t in self._parts]
        return dist.TransformedDistribution(self.base(), parts)

    def _split(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, context)`` as tensors of the flow's dtype and device: ``x`` of shape ``(n, features)``, ``context``
        ``(n, context_features)`` or None. Raises a ``ValueError``/``TypeError`` naming the bad part."""
        like = reference_tensor(self)
        context = None
        if (isinstance(batch, (tuple, list)) and len(batch) == 2
                and all(isinstance(b, (torch.Tensor, np.ndarray)) for b in batch)):
            batch, context = batch
            if not self.context_features:
                raise ValueError("context: expected None for this unconditional flow (context_features = 0), got a "
                                 f"batch (x, context) with context of shape {tuple(context.shape)}.")
            context = as_rows(context, self.context_features, like, "context")
        x = as_rows(batch, self.features, like, "x")
        if context is not None and context.shape[0] != x.shape[0]:
            raise ValueError(f"context: expected {x.shape[0]} rows (one per row of x), got {context.shape[0]}.")
        return x, context

    def _check_invertible(self, what: str) -> None:
        if not self.invertible:
            raise ValueError(f"{what}: this flow has planar, radial or Sylvester layers (Pyro's), which have no "
                             "inverse, so it has no density at given data; use it as a variational family "
                             "(flow_guide) or fit data with maf, nsf, realnvp or cnf.")

    def model(self, batch: Any) -> None:
        """Pyro model: :math:`x_n \\sim p_x(\\cdot \\mid c_n)` independently for each row."""
        self._check_invertible("model")
        x, context = self._split(batch)
        if context is not None:
            self._seen_context = context.detach()
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", self.distribution(context), obs=x)

    def log_prob(self, batch: Any) -> torch.Tensor:
        """Exact :math:`\\log p_x(x_n \\mid c_n)` per row, shape ``(n,)``, in nats.

        ``batch`` is ``x`` (a tensor or array of shape ``(n, features)``, cast to the flow's dtype) or ``(x, c)``.
        """
        x, context = self._split(batch)
        try:
            return self.distribution(context).log_prob(x)
        except KeyError:  # Pyro's planar/radial inverse: a cache miss for points the flow did not produce
            self._check_invertible("log_prob")
            raise

    def sample(self, num_samples: int, context: torch.Tensor | None = None) -> torch.Tensor:
        """``num_samples`` draws :math:`T(u)`, shape ``(num_samples, features)``, from torch's current generator.

        For a conditional flow, ``context`` has ``num_samples`` rows, one per draw. Without it, the contexts are
        drawn (with replacement) from those of the last batch :meth:`model` observed, so the draws follow the
        fitted marginal :math:`\\int p(x \\mid c)\\, \\hat p(c)\\, dc` (what ``train`` stores as generated samples).
        """
        num_samples = check_int(num_samples, "num_samples")
        if context is not None:
            if not self.context_features:
                raise ValueError("context: expected None for this unconditional flow (context_features = 0), got "
                                 f"a tensor of shape {tuple(context.shape)}.")
            context = as_rows(context, self.context_features, reference_tensor(self), "context")
            if context.shape[0] != num_samples:
                raise ValueError(f"context: expected {num_samples} rows (one per draw), got {context.shape[0]}.")
        if self.context_features and context is None:
            seen = self._seen_context
            if seen is None:
                raise ValueError(f"context: expected a tensor of shape ({num_samples}, {self.context_features}) "
                                 "for this conditional flow, got None (and no training batch seen yet).")
            context = seen[torch.randint(len(seen), (num_samples,), device=seen.device)]
        with torch.no_grad():
            return self.distribution(context).sample((num_samples,))

    def transform(self, context: torch.Tensor | None = None) -> torch.distributions.Transform:
        """The whole map :math:`T` as one transform (its ``inv`` is the normalising direction :math:`T^{-1}`)."""
        parts = self._parts if context is None else [t.with_context(context) for t in self._parts]
        return parts[0] if len(parts) == 1 else ComposeTransformModule(parts)


def _zuko_features(flow: zuko.lazy.Flow) -> int:
    base = flow.base()
    if not isinstance(base, torch.distributions.Distribution) or len(base.event_shape) != 1:
        raise ValueError(f"flow: expected a zuko flow over vectors, got a base with event shape "
                         f"{tuple(base.event_shape)}.")
    mean, std = base.mean, base.stddev
    if not (torch.all(mean == 0) and torch.all(std == 1)):
        raise ValueError("flow: expected a zuko flow with a standard normal base (zuko's factories build one).")
    return int(base.event_shape[0])


def realnvp(features: int, *, transforms: int = 4, hidden_features: int | tuple[int, ...] = (64, 64),
            context_features: int = 0, seed: int = 0) -> FlowModel:
    """An affine-coupling flow (RealNVP, Dinh et al. 2017) on ``features`` dimensions, built by zuko.

    Each of ``transforms`` layers keeps half of the coordinates and shifts and scales the other half by an MLP
    of them (``hidden_features`` units per hidden layer; an integer ``h`` means ``(h, h)``), alternating halves;
    the Jacobian is triangular, so the log-determinant is the sum of the log-scales (course row 8.7, Exercise
    8.3). ``context_features > 0`` makes it conditional (the context enters every MLP).

    The initial weights are drawn under ``torch_seeded(seed)``: the same ``seed`` gives the same flow, and the
    caller's torch generator is neither used nor advanced.

    Raises
    ------
    ValueError, TypeError
        If ``features`` < 2 (a coupling needs two halves), ``transforms`` < 1, or ``seed`` is not an integer >= 0.
    """
    check_int(features, "features", minimum=2)
    check_int(transforms, "transforms", minimum=1)
    check_int(context_features, "context_features", minimum=0)
    check_int(seed, "seed", minimum=0)
    hidden = _hidden(hidden_features)
    with torch_seeded(seed):
        flow = zuko.flows.RealNVP(features, context_features, transforms=transforms, hidden_features=hidden)
    return FlowModel(flow, features, context_features=context_features)


def _hidden(hidden_features: int | Sequence[int]) -> tuple[int, ...]:
    """``(h, h)`` for an integer ``h``; a sequence as given (each entry an integer >= 1)."""
    if isinstance(hidden_features, int):
        return (check_int(hidden_features, "hidden_features", minimum=1),) * 2
    return tuple(check_int(h, "hidden_features", minimum=1) for h in hidden_features)
