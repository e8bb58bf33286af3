r"""Couplings :math:`q(z) = \pi(x_0, x_1)` of a source and a target minibatch (course Remark 8.13, chapter 5).

The CFM loss (8.15) holds for any coupling of the two ends. A coupling here has
``pair(x0, x1) -> (i, j)``, index tensors of length n such that ``(x0[i[k]], x1[j[k]])`` are the pairs (labels of
``x1`` follow ``j``), and ``coupling(x0, x1) -> (x0[i], x1[j])``:

* :class:`IndependentCoupling` -- :math:`\pi = p \otimes q`; two independent batches are already paired
  independently, so the rows pass through (I-CFM, rectified flow, Lipman's FM).
* :class:`ExactOTCoupling` -- the exact OT plan of the two empirical measures (Tong et al.'s OT-CFM). With equal
  batch sizes and uniform weights the optimal plan is a permutation matrix divided by :math:`n`
  (Birkhoff-von Neumann), so the pairs are read off the permutation returned by
  :func:`pgm_ppl.ot.minibatch_ot_coupling`: every source row and every target row is used exactly once, without the
  resampling with replacement of torchcfm's ``OTPlanSampler``.
* :class:`SinkhornCoupling` -- the entropic plan :math:`P^\varepsilon` of :func:`pgm_ppl.ot.sinkhorn` (or
  :func:`pgm_ppl.ot.sinkhorn_log` when :math:`e^{-C/\varepsilon}` would underflow); each
  source row :math:`i` keeps its place and draws its partner :math:`j \sim P^\varepsilon_{i\cdot}/a_i` (so the
  source marginal is exact). With ``reg`` :math:`= 2\sigma^2` and :class:`~pgm_ppl.flow_matching.BrownianBridgePath`
  (:math:`\sigma`) this is Schrödinger-bridge CFM (Tong et al. 2024, Prop. 3.4).
"""

from __future__ import annotations

import numpy as np
import torch

from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.ot import cost_matrix, minibatch_ot_coupling, sinkhorn, sinkhorn_log

__all__ = ["Coupling", "ExactOTCoupling", "IndependentCoupling", "SinkhornCoupling", "make_coupling"]


class Coupling:
    """Base class: ``pair(x0, x1)`` returns index tensors ``(i, j)``; ``coupling(x0, x1)`` the paired rows."""

    name = "coupling"

    def pair(self, x0: torch.Tensor, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def __call__(self, x0: torch.Tensor, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, j = self.pair(x0, x1)
        return x0[i], x1[j]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def _check_batches(x0: torch.Tensor, x1: torch.Tensor) -> None:
    if x0.shape != x1.shape:
        raise ValueError(f"x1: expected a batch of the source batch's shape {tuple(x0.shape)}, "
                         f"got {tuple(x1.shape)}.")


class IndependentCoupling(Coupling):
    r""":math:`\pi(x_0, x_1) = p(x_0) q(x_1)`: independent batches are returned as they are."""

    name = "independent"

    def pair(self, x0: torch.Tensor, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_batches(x0, x1)
        index = torch.arange(x0.shape[0], device=x0.device)
        return index, index


class ExactOTCoupling(Coupling):
    r"""Exact minibatch OT for the squared Euclidean cost: the optimal permutation (module docstring).

    Returns ``x0`` in its order and ``x1`` permuted by the optimal assignment :math:`\sigma^\star`,
    :math:`\sum_i \|x_{0,i} - x_{1,\sigma^\star(i)}\|^2 = n\,W_2^2(\hat p_n, \hat q_n)`.
    """

    name = "exact_ot"

    def pair(self, x0: torch.Tensor, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_batches(x0, x1)
        with torch.no_grad():
            pairing = minibatch_ot_coupling(x0.detach().reshape(x0.shape[0], -1),
                                            x1.detach().reshape(x1.shape[0], -1))
        return pairing.source_index, pairing.target_index


class SinkhornCoupling(Coupling):
    r"""Entropic OT coupling with regularisation ``reg`` :math:`= \varepsilon` (Sinkhorn, course (5.11)-(5.12)).

    Each source row draws one target partner from its row of the plan (torch's current generator); as
    ``reg`` :math:`\to 0` this tends to :class:`ExactOTCoupling`, as ``reg`` :math:`\to \infty` to the independent
    coupling. Schrödinger-bridge CFM with noise :math:`\sigma` uses ``reg = 2 * sigma**2``.
    """

    name = "sinkhorn"

    def __init__(self, reg: float = 0.05, *, max_iter: int = 1000) -> None:
        self.reg = check_positive(reg, "reg")
        self.max_iter = check_int(max_iter, "max_iter")

    def plan(self, x0: torch.Tensor, x1: torch.Tensor) -> np.ndarray:
        """The entropic plan between the uniform empirical measures of the batches, ``(n, n)``, numpy."""
        n = x0.shape[0]
        flat0 = x0.detach().reshape(n, -1).cpu().double().numpy()
        flat1 = x1.detach().reshape(n, -1).cpu().double().numpy()
        a, C = np.full(n, 1.0 / n), cost_matrix(flat0, flat1)
        # scaling form while the kernel exp(-C/reg) stays above float64's underflow (e^-700), log domain beyond
        solve = sinkhorn if float(C.max()) < 500.0 * self.reg else sinkhorn_log
        return np.asarray(solve(a, a, C, self.reg, max_iter=self.max_iter, tol=1e-6).plan)

    def pair(self, x0: torch.Tensor, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_batches(x0, x1)
        rows = torch.as_tensor(self.plan(x0, x1), dtype=torch.float64).clamp_min(0.0)
        partners = torch.multinomial(rows, 1).squeeze(1).to(x1.device)  # j ~ P[i, :] / a_i
        return torch.arange(x0.shape[0], device=x0.device), partners


_COUPLINGS = {"independent": IndependentCoupling, "exact_ot": ExactOTCoupling, "sinkhorn": SinkhornCoupling}


def make_coupling(coupling: str | Coupling, *, reg: float | None = None) -> Coupling:
    """A coupling by name (``"independent"``, ``"exact_ot"``, ``"sinkhorn"`` with ``reg``) or as given.

    Raises
    ------
    ValueError
        An unknown name.
    """
    if isinstance(coupling, Coupling):
        return coupling
    if coupling not in _COUPLINGS:
        raise ValueError(f"coupling: expected one of {', '.join(map(repr, _COUPLINGS))} or a Coupling, "
                         f"got {coupling!r}.")
    if coupling == "sinkhorn":
        return SinkhornCoupling(0.05 if reg is None else reg)
    return _COUPLINGS[coupling]()
