r"""Discrete optimal transport on POT: exact (network simplex), Sinkhorn, log-domain Sinkhorn, unbalanced.

Every solver returns a :class:`TransportResult` holding the plan, the transport cost, the dual potentials
and a convergence trace. Inputs may be numpy arrays or torch tensors (CPU or GPU); POT's backend keeps the
type, so torch inputs give torch outputs that are differentiable (see :mod:`pgm_ppl.ot.batched` for
batches of problems).

Regularisation convention
-------------------------
The notes write the entropic problem as (course eq. (5.11), ``eq:optimal_pi_reg2``)

.. math::
    \pi_\lambda^\star = \arg\min_{\pi\in\Pi(\mu,\nu)} \langle C, \pi\rangle - \tfrac{1}{\lambda} H(\pi),
    \qquad \pi_\lambda^\star = \operatorname{diag}(u)\, K\, \operatorname{diag}(v),\quad K = e^{-\lambda C},

while POT and this module take ``reg`` :math:`= \varepsilon = 1/\lambda`. Large :math:`\lambda` (small
``reg``) approaches the exact LP (5.6) and needs the log-domain solver :func:`sinkhorn_log`.

Potentials: ``f`` and ``g`` are the dual potentials with :math:`P_{ij} = \exp((f_i + g_j - C_{ij})/\varepsilon)`
for the entropic solvers (:math:`f = \varepsilon\log u`, :math:`g = \varepsilon\log v`; the notes' Lagrange
multipliers are :math:`-f - \varepsilon` and :math:`-g`), and the LP duals with
:math:`f_i + g_j \le C_{ij}`, :math:`\langle a, f\rangle + \langle b, g\rangle = \text{cost}` for
:func:`exact_ot`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import ot

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import ConvergenceWarning, check_tol_rule

from ._checks import check_histograms, check_int, check_points, check_positive

__all__ = [
    "OTConvergenceWarning",
    "TransportResult",
    "cost_matrix",
    "exact_ot",
    "sinkhorn",
    "sinkhorn_log",
    "unbalanced_sinkhorn",
]


class OTConvergenceWarning(ConvergenceWarning):
    """An iterative OT solver stopped at its iteration limit before reaching its tolerance.

    A :class:`pgm_ppl.core.ConvergenceWarning`, so one filter on that class silences every engine.
    """


@dataclass(frozen=True)
class TransportResult:
    """Solution of one discrete OT problem.

    Attributes
    ----------
    plan : array (n, m)
        Transport plan :math:`P` (same array type as the inputs).
    cost : array ()
        Linear transport cost :math:`\\langle C, P\\rangle` (no entropy term), as in ``ot.emd2`` / ``ot.sinkhorn2``.
    f, g : arrays (n,), (m,)
        Dual potentials (see the module docstring for their normalisation).
    num_iterations : int
        Iterations run (network-simplex pivots are not reported: 0 for :func:`exact_ot`).
    trace : numpy array
        The solver's stopping criterion as it went: the marginal violation :math:`\\|P^\\top 1 - b\\|_2` every
        10 iterations (balanced Sinkhorn), the relative change of the scalings every iteration
        (:func:`unbalanced_sinkhorn`); empty for :func:`exact_ot`.
    converged : bool
        Whether the solver met its tolerance (for :func:`exact_ot`: the simplex reached an optimum).
    stop_reason, rule : str
        ``"tol"`` or ``"max_iter"``, and the tolerance rule checked (``tol_rule``; ``"absolute"`` for the
        solvers without one).
    """

    plan: Any
    cost: Any
    f: Any
    g: Any
    num_iterations: int
    trace: np.ndarray
    converged: bool
    stop_reason: str = "tol"
    rule: str = "absolute"


def cost_matrix(x: Any, y: Any, p: float = 2.0) -> Any:
    r"""Ground-cost matrix :math:`C_{ij} = \|x_i - y_j\|_2^p` between two point clouds (course row 5.9).

    ``p = 2`` gives the squared Euclidean cost :math:`\|x-y\|^2` of the Gaussian formulas (the notes'
    Brenier theorem uses :math:`\tfrac12\|x-y\|^2`: halve the result for that convention).

    Parameters
    ----------
    x, y : arrays of shape (n, d) and (m, d) (1-D inputs are read as points on the line)
    p : exponent, > 0

    Returns
    -------
    array (n, m), same type as ``x``.
    """
    x, y = check_points(x, "x"), check_points(y, "y")
    p = check_positive(p, "p")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"'x' and 'y' must have the same dimension; got {x.shape[1]} and {y.shape[1]}")
    sq = ot.dist(x, y, metric="sqeuclidean")
    if p == 2.0:
        return sq
    nx = ot.backend.get_backend(sq)
    return nx.maximum(sq, 0.0) ** (p / 2.0)


def _trace(err: list) -> np.ndarray:
    """POT's error log (floats or 0-d tensors) as a float64 numpy array."""
    return np.array([float(e.detach()) if hasattr(e, "detach") else float(e) for e in err], dtype=np.float64)


def _linear_cost(nx: Any, plan: Any, C: Any) -> Any:
    """:math:`\\langle C, P\\rangle` in one pass without an (n, m) temporary (differentiable for torch)."""
    return nx.einsum("ij,ij->", plan, C)


def _warn_unconverged(name: str, max_iter: int, reg: float) -> None:
    warnings.warn(
        f"{name} did not reach its tolerance in {max_iter} iterations (reg={reg:g}); raise 'max_iter', "
        "raise 'reg', or use sinkhorn_log for small reg",
        OTConvergenceWarning,
        stacklevel=user_stacklevel() - 1,
    )


def exact_ot(a: Any, b: Any, C: Any, *, max_iter: int = 100_000) -> TransportResult:
    r"""Exact Kantorovich OT by the network simplex (POT ``ot.emd``), course eq. (5.6).

    .. math::
        L(\mu,\nu) = \min_{P\in\Pi(\mu,\nu)} \langle C, P\rangle,\qquad
        \Pi(\mu,\nu) = \{P\ge 0: P 1_M = \mu,\ P^\top 1_N = \nu\}.

    The optimal plan is a vertex of the polytope :math:`\Pi(\mu,\nu)`, with at most :math:`N+M-1` non-zeros.
    With torch inputs the cost is differentiable in ``C`` (gradient: the plan) and in the weights
    (gradient: the potentials).

    Parameters
    ----------
    a, b : weights (n,), (m,), non-negative with equal sums
    C : cost matrix (n, m)
    max_iter : pivot limit of the network simplex

    Returns
    -------
    TransportResult

    Raises
    ------
    ValueError
        On shape mismatches, negative weights or unequal masses.

    Examples
    --------
    Exercise 5.4 (a 2 x 2 problem; :math:`\Delta = c_{11}-c_{12}-c_{21}+c_{22} < 0`, so :math:`p^\star=\min(\mu_1,\nu_1)`):

    >>> import numpy as np
    >>> res = exact_ot(np.array([0.7, 0.3]), np.array([0.4, 0.6]), np.array([[1.0, 3.0], [2.0, 0.5]]))
    >>> res.plan.round(3).tolist(), round(float(res.cost), 3)
    ([[0.4, 0.3], [0.0, 0.3]], 1.45)
    """
    a, b, C = check_histograms(a, b, C)
    max_iter = check_int(max_iter, "max_iter")
    plan, log = ot.emd(a, b, C, numItermax=max_iter, log=True)
    converged = int(log["result_code"]) == 1
    if not converged:
        warnings.warn(f"exact_ot: network simplex stopped early ({log['warning']})", OTConvergenceWarning,
                      stacklevel=user_stacklevel() - 1)
    nx = ot.backend.get_backend(plan)
    f, g = log["u"], log["v"]
    # the cost carries POT's envelope gradients (plan for C, centred potentials for a, b), as ot.emd2 does
    cost = nx.set_gradients(
        nx.from_numpy(np.asarray(log["cost"], dtype=np.float64), type_as=C),
        (a, b, C),
        (f - nx.mean(f), g - nx.mean(g), plan),
    )
    return TransportResult(plan, cost, f, g, 0, np.zeros(0), converged, "tol" if converged else "max_iter")


def _entropic(method: str, a: Any, b: Any, C: Any, reg: float, max_iter: int, tol: float,
              tol_rule: str) -> TransportResult:
    """Balanced Sinkhorn by POT's own loop: the marginal error is checked (and logged) at iterations
    1, 11, 21, ..., i.e. every 10 iterations as POT does, so the per-iteration cost is POT's; our only
    additions are the input checks and the result assembly, O(nm) once each."""
    a, b, C = check_histograms(a, b, C)
    reg = check_positive(reg, "reg")
    max_iter = check_int(max_iter, "max_iter")
    tol = check_positive(tol, "tol")
    rule = check_tol_rule(tol_rule)
    # relative: the marginal violation against tol * ||b||_2 (has_converged's rule with b as the scale)
    threshold = tol if rule == "absolute" else tol * float(ot.backend.get_backend(b).norm(b))
    with np.errstate(over="ignore"):  # POT also returns exp(log_u), which may overflow; we use log_u
        plan, log = ot.sinkhorn(a, b, C, reg, method=method, numItermax=max_iter, stopThr=threshold, log=True,
                                 warn=False)
    nx = ot.backend.get_backend(plan)
    if method == "sinkhorn_log":
        f, g = reg * log["log_u"], reg * log["log_v"]
    else:
        f, g = reg * nx.log(log["u"]), reg * nx.log(log["v"])
    trace = _trace(log["err"])
    converged = bool(trace.size > 0 and trace[-1] < threshold)
    if not converged:
        _warn_unconverged(method, int(log["niter"]) + 1, reg)
    return TransportResult(plan, _linear_cost(nx, plan, C), f, g, int(log["niter"]) + 1, trace, converged,
                           "tol" if converged else "max_iter", rule)


def sinkhorn(a: Any, b: Any, C: Any, reg: float, *, max_iter: int = 1000, tol: float = 1e-9,
             tol_rule: str = "absolute") -> TransportResult:
    r"""Entropic OT by Sinkhorn–Knopp matrix scaling (POT ``ot.sinkhorn``), course eqs. (5.11)–(5.12).

    .. math::
        P = \operatorname{diag}(u) K \operatorname{diag}(v),\quad K = e^{-C/\varepsilon},\qquad
        u \leftarrow a \oslash (K v),\quad v \leftarrow b \oslash (K^\top u),

    with ``reg`` :math:`=\varepsilon = 1/\lambda` (the notes' :math:`\lambda`). Fast for
    :math:`\varepsilon` above a few per cent of :math:`\max C`; below that :math:`K` underflows, use
    :func:`sinkhorn_log`.

    Parameters
    ----------
    a, b : weights (n,), (m,) with equal sums
    C : cost matrix (n, m)
    reg : :math:`\varepsilon > 0`
    max_iter : iteration limit
    tol, tol_rule : stop when the marginal violation :math:`\|P^\top 1 - b\|_2` falls below ``tol``
        (``tol_rule="absolute"``, POT's ``stopThr``) or below ``tol`` :math:`\|b\|_2` (``"relative"``). As in POT,
        it is checked every 10 iterations (after iterations 1, 11, 21, ...), so a converged run reports
        ``num_iterations`` of the form 10k + 1 and ``trace`` holds one value per check.

    Returns
    -------
    TransportResult
        ``cost`` is :math:`\langle C, P\rangle` (equal to ``ot.sinkhorn2`` up to rounding).

    Warns
    -----
    OTConvergenceWarning
        When ``max_iter`` is reached first.

    See Also
    --------
    sinkhorn_log, exact_ot, pgm_ppl.ot.batched.sinkhorn_batched

    Examples
    --------
    The notes' :math:`\lambda = 1` is ``reg=1.0``; the entropic plan moves off the LP vertex of
    :func:`exact_ot`'s example (cost 1.45) into the polytope and costs more:

    >>> import numpy as np
    >>> a, b, C = np.array([0.7, 0.3]), np.array([0.4, 0.6]), np.array([[1.0, 3.0], [2.0, 0.5]])
    >>> res = sinkhorn(a, b, C, reg=1.0)
    >>> res.converged, res.plan.round(3).tolist(), round(float(res.cost), 3)
    (True, [[0.389, 0.311], [0.011, 0.289]], 1.488)
    """
    return _entropic("sinkhorn", a, b, C, reg, max_iter, tol, tol_rule)


def sinkhorn_log(a: Any, b: Any, C: Any, reg: float, *, max_iter: int = 1000, tol: float = 1e-9,
                 tol_rule: str = "absolute") -> TransportResult:
    r"""Log-domain (stabilised) Sinkhorn (POT ``method="sinkhorn_log"``) for small ``reg``.

    Iterates on the potentials with log-sum-exp,

    .. math::
        f_i \leftarrow \varepsilon\log a_i - \varepsilon \operatorname{LSE}_j\big((g_j - C_{ij})/\varepsilon\big),
        \quad
        g_j \leftarrow \varepsilon\log b_j - \varepsilon \operatorname{LSE}_i\big((f_i - C_{ij})/\varepsilon\big),

    which never forms :math:`e^{-C/\varepsilon}` and so stays finite for :math:`\varepsilon \to 0`, where the
    plan tends to an exact (LP) plan. Same problem, parameters and result as :func:`sinkhorn`, including the
    marginal error checked every 10 iterations.
    """
    return _entropic("sinkhorn_log", a, b, C, reg, max_iter, tol, tol_rule)


def unbalanced_sinkhorn(
    a: Any, b: Any, C: Any, reg: float, reg_m: float, *, max_iter: int = 1000, tol: float = 1e-9
) -> TransportResult:
    r"""Unbalanced entropic OT (POT ``ot.unbalanced.sinkhorn_unbalanced``, KL marginal penalties).

    .. math::
        \min_{P\ge 0}\ \langle C,P\rangle + \varepsilon\,\mathrm{KL}(P\,\|\,a b^\top)
        + \rho\,\mathrm{KL}(P 1\,\|\,a) + \rho\,\mathrm{KL}(P^\top 1\,\|\,b),

    with ``reg`` :math:`=\varepsilon` and ``reg_m`` :math:`=\rho`; the masses of ``a`` and ``b`` may differ.
    As :math:`\rho\to\infty` it tends to :func:`sinkhorn`.

    Returns
    -------
    TransportResult
        ``f, g`` are :math:`\varepsilon\log u,\ \varepsilon\log v` of the scaling form of the plan. ``tol`` bounds
        POT's criterion, already a relative change of the scalings (``rule`` ``"relative"``).
    """
    a, b, C = check_histograms(a, b, C, balanced=False)
    reg, reg_m = check_positive(reg, "reg"), check_positive(reg_m, "reg_m")
    max_iter, tol = check_int(max_iter, "max_iter"), check_positive(tol, "tol")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plan, log = ot.unbalanced.sinkhorn_unbalanced(
            a, b, C, reg, reg_m, method="sinkhorn", numItermax=max_iter, stopThr=tol, log=True
        )
    nx = ot.backend.get_backend(plan)
    trace = _trace(log["err"])
    converged = trace.size > 0 and trace[-1] < tol
    if not converged:
        _warn_unconverged("unbalanced_sinkhorn", max_iter, reg)
    return TransportResult(plan, _linear_cost(nx, plan, C), reg * log["logu"], reg * log["logv"], trace.size, trace,
                           bool(converged), "tol" if converged else "max_iter", "relative")
