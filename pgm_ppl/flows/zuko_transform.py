r"""zuko's learned transforms as Pyro :class:`~pyro.distributions.torch_transform.TransformModule` s.

zuko (Rozet et al.) builds its flows in the *normalising* direction :math:`T^{-1}: x \mapsto u` (course
Remark "Normalising flow"), as lazy modules called with an optional context :math:`c`. Pyro's
:class:`~pyro.distributions.TransformedDistribution` wants the *generative* direction :math:`T: u \mapsto x`.
:class:`ZukoTransform` is that inversion, with one pass per direction: the log-determinant comes out of the same
``call_and_ladj`` call as the output and is kept for the ``log_abs_det_jacobian`` that Pyro asks for next, so
``log_prob`` of data costs exactly what zuko's own ``flow().log_prob`` costs.

Why zuko and not Pyro's own flows: Pyro's ``pyro.distributions.transforms`` flows are frozen (Pyro's tutorials
point to zuko, which :mod:`pyro.contrib.zuko` wraps), while zuko is maintained, covers coupling, autoregressive,
spline, and continuous flows with contexts in one small code base. Only planar and radial flows, which zuko lacks,
come from Pyro (:mod:`pgm_ppl.flows.learned`).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import zuko
from pyro.distributions.torch_transform import TransformModule
from torch.distributions import constraints

__all__ = ["ZukoTransform"]


class ZukoTransform(TransformModule):
    r"""The generative map :math:`x = T(u)` of a zuko lazy transform (which maps :math:`x \mapsto u`).

    Parameters
    ----------
    lazy
        A :class:`zuko.lazy.LazyTransform` (a flow's ``.transform``), registered as a submodule so its weights
        train with the module that holds this transform.
    context
        The context :math:`c`, shape ``(n, context_features)`` or ``(context_features,)``, for a conditional
        flow; ``None`` for an unconditional one. See :meth:`with_context`.

    Notes
    -----
    Direction: ``self(u)`` runs zuko's inverse, ``self.inv(x)`` zuko's forward (the normalising direction), and
    ``log_abs_det_jacobian(u, x)`` is :math:`\log|\det \nabla T(u)| = -\log|\det \nabla T^{-1}(x)|` (course
    eqs. (8.2)-(8.3)). Each call computes output and log-determinant together and remembers them for the pair it
    produced (never for data passed in twice), so Pyro's ``inv`` + ``log_abs_det_jacobian`` sequence does one
    pass, and a sample's ``log_prob`` reuses the forward pass that made it (as Pyro's ``cache_size=1``).
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, lazy: zuko.lazy.LazyTransform, context: torch.Tensor | None = None) -> None:
        super().__init__(cache_size=0)
        self.lazy = lazy
        self.context = context
        self._memo: tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool] | None = None

    def with_context(self, context: torch.Tensor | None) -> ZukoTransform:
        """The same transform (shared weights) bound to ``context``."""
        bound = copy.copy(self)
        bound.context, bound._memo = context, None
        return bound

    def _normalising(self) -> torch.distributions.Transform:
        return self.lazy(self.context)

    def _call(self, u: torch.Tensor) -> torch.Tensor:
        x, ladj_inverse = self._normalising().inv.call_and_ladj(u)
        self._memo = (u, x, ladj_inverse, True)
        return x

    def _inverse(self, x: torch.Tensor) -> torch.Tensor:
        memo = self._memo
        if memo is not None and memo[3] and memo[1] is x:  # x was produced by our forward pass
            return memo[0]
        u, ladj = self._normalising().call_and_ladj(x)
        self._memo = (u, x, -ladj, False)
        return u

    def log_abs_det_jacobian(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log|\\det \\nabla T(u)|` per row, shape ``u.shape[:-1]``."""
        memo = self._memo
        if memo is not None and memo[0] is u and memo[1] is x:
            return memo[2]
        _, ladj = self._normalising().call_and_ladj(x)
        return -ladj

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # torch's Transform drops its inverse; we drop the remembered pass
        state["_memo"] = None
        return state
