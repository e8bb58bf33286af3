r"""Batches of entropic OT problems on torch (or numpy), differentiable, on POT's ``ot.batch``.

Flow matching and sample metrics solve many small OT problems at once; stacking them as a
(B, n, m) batch runs one vectorised log-domain Sinkhorn (POT ``ot.batch.solve_batch``) on CPU or GPU.
Gradients flow through the iterations (``grad="autodiff"``), so the costs can be used as training losses.
Convention: ``reg`` :math:`=\varepsilon = 1/\lambda` of the notes (see :mod:`pgm_ppl.ot.discrete`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import ot
import ot.batch

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import check_tol_rule

from ._checks import as_array, backend, check_int, check_positive
from .discrete import OTConvergenceWarning

__all__ = ["BatchedTransportResult", "batched_cost_matrix", "sinkhorn_batched"]


@dataclass(frozen=True)
class BatchedTransportResult:
    """Solutions of B entropic OT problems.

    Attributes
    ----------
    plan : array (B, n, m)
    cost : array (B,)
        Linear costs :math:`\\langle C_b, P_b\\rangle`.
    f, g : arrays (B, n), (B, m)
        Dual potentials, :math:`P_{b,ij} = \\exp((f_{b,i} + g_{b,j} - C_{b,ij})/\\varepsilon)`.
    num_iterations : int
        Iterations run (shared by the batch).
    marginal_error : array (B,)
        Final violation :math:`\\|P_b 1 - a_b\\|_1 + \\|P_b^\\top 1 - b_b\\|_1` per problem.
    converged : bool
        Whether every problem met the stopping rule on its returned plan.
    stop_reason, rule : str
        ``"tol"`` or ``"max_iter"``, and the ``tol_rule`` checked.
    """

    plan: Any
    cost: Any
    f: Any
    g: Any
    num_iterations: int
    marginal_error: Any
    converged: bool = True
    stop_reason: str = "tol"
    rule: str = "absolute"


def batched_cost_matrix(x: Any, y: Any) -> Any:
    """Squared Euclidean costs (B, n, m) between point clouds x (B, n, d) and y (B, m, d) (``ot.batch.dist_batch``)."""
    x, y = as_array(x, "x"), as_array(y, "y")
    if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(f"'x' and 'y' must have shapes (B, n, d) and (B, m, d); got {tuple(x.shape)} and {tuple(y.shape)}")
    return ot.batch.dist_batch(x, y, metric="sqeuclidean")


def sinkhorn_batched(
    a: Any, b: Any, C: Any, reg: float, *, max_iter: int = 1000, tol: float = 1e-9, tol_rule: str = "absolute"
) -> BatchedTransportResult:
    r"""Log-domain Sinkhorn on a batch of problems :math:`(a_b, b_b, C_b)_{b=1}^B` at once.

    Each problem is the entropic OT of :func:`pgm_ppl.ot.sinkhorn` (course eq. (5.11)),

    .. math::
        P_b = \arg\min_{P\in\Pi(a_b, b_b)} \langle C_b, P\rangle + \varepsilon \sum_{ij} P_{ij}(\log P_{ij} - 1).

    Parameters
    ----------
    a, b : weights (B, n), (B, m), each row summing to one; ``None`` for uniform
    C : costs (B, n, m)
    reg : :math:`\varepsilon > 0`
    max_iter : iteration limit
    tol, tol_rule : stop when every problem's row-marginal violation :math:`\|P_b 1 - a_b\|_2` is below ``tol``
        (``tol_rule="absolute"``, POT's ``tol``) or below ``tol`` :math:`\|a_b\|_2` (``"relative"``; POT checks
        the largest violation of the batch against one threshold, so it is given ``tol`` :math:`\min_b\|a_b\|_2`).
        As in POT, the check runs every 10 iterations. ``converged`` is the rule checked on the returned plans.

    Returns
    -------
    BatchedTransportResult
        With torch inputs every field is a tensor and ``cost`` is differentiable in ``C`` (and in the
        points that produced it).

    Warns
    -----
    OTConvergenceWarning
        When some problem misses the rule after ``max_iter`` iterations.
    """
    C = as_array(C, "C")
    if C.ndim != 3:
        raise ValueError(f"'C' must have shape (B, n, m); got {tuple(C.shape)}")
    B, n, m = C.shape
    nx = backend(a, b, C)
    a = nx.ones((B, n), type_as=C) / n if a is None else as_array(a, "a")
    b = nx.ones((B, m), type_as=C) / m if b is None else as_array(b, "b")
    if tuple(a.shape) != (B, n) or tuple(b.shape) != (B, m):
        raise ValueError(f"'a' and 'b' must have shapes {(B, n)} and {(B, m)}; got {tuple(a.shape)} and {tuple(b.shape)}")
    reg = check_positive(reg, "reg")
    max_iter, tol = check_int(max_iter, "max_iter"), check_positive(tol, "tol")
    rule = check_tol_rule(tol_rule)
    a0, b0 = nx.detach(a), nx.detach(b)
    scale = np.ones(B) if rule == "absolute" else np.linalg.norm(np.asarray(nx.to_numpy(a0), np.float64), axis=1)
    res = ot.batch.solve_batch(C, reg, a, b, max_iter=max_iter, tol=tol * float(scale.min()), method="log_sinkhorn",
                               grad="autodiff")
    log_u, log_v = res.potentials
    plan = res.plan
    P = nx.detach(plan)
    row = nx.sum(P, axis=2) - a0
    err = nx.sum(nx.abs(row), axis=1) + nx.sum(nx.abs(nx.sum(P, axis=1) - b0), axis=1)
    violation = np.sqrt((np.asarray(nx.to_numpy(row), np.float64) ** 2).sum(1))
    converged = bool(np.all(violation < tol * scale))
    num_iterations = int(res.log["n_iter"]) + 1
    if not converged:
        warnings.warn(f"sinkhorn_batched did not reach its tolerance in {num_iterations} iterations (reg={reg:g}, "
                      f"largest violation {violation.max():.3g}, tol={tol:g}, {rule}); raise 'max_iter' or 'reg'",
                      OTConvergenceWarning, stacklevel=user_stacklevel() - 1)
    return BatchedTransportResult(plan, res.value_linear, reg * log_u, reg * log_v, num_iterations, err, converged,
                                  "tol" if converged else "max_iter", rule)
