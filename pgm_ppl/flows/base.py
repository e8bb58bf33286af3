r"""A normalising flow as a Pyro model: :class:`FlowModel` (course chapter 8, eqs. (8.1)-(8.2)).

A flow pushes a base density :math:`p_u` (standard normal) through an invertible map :math:`T`, so
:math:`x = T(u)` has the exact log-density of the change of variables,

.. math::
    \log p_x(x) = \log p_u\big(T^{-1}(x)\big) + \log \big|\det J_{T^{-1}}(x)\big|.

The transforms come from zuko (Rozet et al.), whose flows Pyro itself wraps with
:class:`pyro.contrib.zuko.ZukoToPyro` (Pyro's own flows are frozen and its tutorials point to zuko); we do not
rewrite coupling networks or splines. As a Pyro object the flow samples, has ``log_prob``, is the likelihood of a
model whose data are observed (maximum likelihood = the ELBO with an empty guide, run by
:func:`pgm_ppl.training.train`), and can serve as a prior, likelihood or variational family in any Pyro model.
"""

from __future__ import annotations

import pyro
import torch
import zuko
from pyro.contrib.zuko import ZukoToPyro
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int

__all__ = ["FlowModel", "realnvp"]


class FlowModel(nn.Module):
    """A flow :math:`x = T(u)`, :math:`u \\sim \\mathcal N(0, I)`, as a Pyro model over rows of data.

    Parameters
    ----------
    flow
        A zuko lazy distribution (``zuko.flows.RealNVP``, ``MAF``, ``NSF``, ...) over ``features`` dimensions.

    Notes
    -----
    ``model(x)`` observes each row of ``x`` (shape ``(batch, features)``) under the flow inside a ``"data"``
    plate; with no guide, the ELBO is exactly :math:`-\\sum_n \\log p_x(x_n)` (nats), so training by the ELBO is
    maximum likelihood. ``log_prob`` is exact (``log_prob_kind = "exact"``).
    """

    log_prob_kind = "exact"

    def __init__(self, flow: zuko.lazy.LazyDistribution) -> None:
        super().__init__()
        self.flow = flow

    def distribution(self) -> ZukoToPyro:
        """The flow's distribution as a Pyro distribution (event shape ``(features,)``)."""
        return ZukoToPyro(self.flow())

    def model(self, x: torch.Tensor) -> None:
        """Pyro model: :math:`x_n \\sim p_x` independently for each row."""
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", self.distribution(), obs=x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p_x(x_n)` per row, shape ``(n,)``, in nats."""
        return self.flow().log_prob(x)

    def sample(self, num_samples: int) -> torch.Tensor:
        """``num_samples`` draws :math:`T(u)`, shape ``(num_samples, features)``, from torch's current generator."""
        return self.flow().sample((num_samples,))


def realnvp(features: int, *, transforms: int = 4, hidden_features: int | tuple[int, ...] = (64, 64),
            seed: int = 0) -> FlowModel:
    """An affine-coupling flow (RealNVP, Dinh et al. 2017) on ``features`` dimensions, built by zuko.

    Each of ``transforms`` layers keeps half of the coordinates and shifts and scales the other half by an MLP
    of them (``hidden_features`` units per hidden layer; an integer ``h`` means ``(h, h)``), alternating halves; the Jacobian is triangular, so the log-determinant
    is the sum of the log-scales (course §8, coupling flows).

    The initial weights are drawn under ``torch_seeded(seed)``: the same ``seed`` gives the same flow, and the
    caller's torch generator is neither used nor advanced.

    Raises
    ------
    ValueError, TypeError
        If ``features`` < 2 (a coupling needs two halves), ``transforms`` < 1, or ``seed`` is not an integer >= 0.
    """
    check_int(features, "features", minimum=2)
    check_int(transforms, "transforms", minimum=1)
    check_int(seed, "seed", minimum=0)
    if isinstance(hidden_features, int):
        hidden_features = (check_int(hidden_features, "hidden_features", minimum=1),) * 2
    with torch_seeded(seed):
        return FlowModel(zuko.flows.RealNVP(features, transforms=transforms,
                                            hidden_features=tuple(hidden_features)))
