r"""Discrete Monge maps and couplings (course §5.1–5.2): push-forwards, brute-force Monge, the coupling set.

These are the notes' small-problem tools: they show when a Monge map exists (mass cannot be split,
Remark 5.1 and Exercise 5.1), that maps can be non-unique (Exercise 5.2), and that the Kantorovich set
:math:`\Pi(\mu,\nu)` is never empty (Remark 5.3). For real problems use :func:`pgm_ppl.ot.exact_ot`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import rounding_tolerance

__all__ = ["MongeResult", "independent_coupling", "is_coupling", "monge_brute_force", "pushforward"]

_MAX_MAPS = 2_000_000


@dataclass(frozen=True, slots=True)
class MongeResult:
    """Best discrete Monge map, if one exists.

    Attributes
    ----------
    assignment : numpy int array (N,) or None
        ``assignment[i] = j`` means :math:`T(x_i) = y_j`; ``None`` when no map pushes :math:`\\mu` onto :math:`\\nu`.
    cost : float
        :math:`\\sum_i \\mu_i C_{i, T(i)}` of the best map (``inf`` when none exists).
    num_optimal : int
        How many maps attain that cost (more than one: the Monge problem is not unique).
    """

    assignment: np.ndarray | None
    cost: float
    num_optimal: int


def _weights(w: Any, name: str) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or np.any(w < 0):
        raise ValueError(f"'{name}' must be a non-empty 1-D vector of non-negative weights; got shape {w.shape}")
    return w


def pushforward(a: Any, assignment: Any, num_targets: int) -> np.ndarray:
    r"""Push-forward :math:`T_\#\mu` of a discrete measure through a map, course eq. (5.2):
    :math:`\nu_j = \sum_{i: T(x_i) = y_j} \mu_i`.

    Parameters
    ----------
    a : source weights (N,)
    assignment : integer targets (N,), ``assignment[i] = j`` for :math:`T(x_i) = y_j`
    num_targets : M, the number of target atoms

    Returns
    -------
    numpy array (M,)
    """
    a = _weights(a, "a")
    t = np.asarray(assignment)
    if t.shape != a.shape or not np.issubdtype(t.dtype, np.integer) or np.any((t < 0) | (t >= num_targets)):
        raise ValueError(f"'assignment' must hold {a.size} integers in [0, {num_targets}); got {t.tolist()}")
    return np.bincount(t, weights=a, minlength=num_targets)


def monge_brute_force(a: Any, b: Any, C: Any, *, atol: float | None = None) -> MongeResult:
    r"""Solve the discrete Monge problem :math:`\min_{T_\#\mu=\nu}\sum_i \mu_i c(x_i, T(x_i))` by enumeration.

    All :math:`M^N` maps are checked at once (vectorised), so this is for the notes' small examples
    (at most two million maps). A map exists only if every :math:`\nu_j` is a sum of whole source masses
    (a subset-sum condition, Exercise 5.1).

    Parameters
    ----------
    a, b : weights (N,), (M,)
    C : cost (N, M)
    atol : tolerance of the push-forward equality; default: the rounding level :math:`\sqrt\epsilon` of the
        least precise dtype among ``a``, ``b`` times the mass of ``a`` (as :func:`is_coupling`)

    Returns
    -------
    MongeResult
    """
    raw = [np.asarray(a), np.asarray(b)]
    a, b = _weights(a, "a"), _weights(b, "b")
    C = np.asarray(C, dtype=np.float64)
    N, M = a.size, b.size
    if atol is None:
        atol = rounding_tolerance(*raw) * max(float(a.sum()), float(np.finfo(np.float64).tiny))
    if C.shape != (N, M):
        raise ValueError(f"cost 'C' must have shape {(N, M)}; got {C.shape}")
    if M**N > _MAX_MAPS:
        raise ValueError(f"{M}^{N} maps exceed the enumeration limit {_MAX_MAPS}; use exact_ot for large problems")
    maps = np.indices((M,) * N).reshape(N, -1).T  # (M^N, N): every assignment
    K = maps.shape[0]
    offsets = maps + M * np.arange(K)[:, None]
    pushed = np.bincount(offsets.ravel(), weights=np.tile(a, K), minlength=K * M).reshape(K, M)
    feasible = np.all(np.abs(pushed - b) <= atol, axis=1)
    if not feasible.any():
        return MongeResult(None, float("inf"), 0)
    costs = np.where(feasible, (a * C[np.arange(N), maps]).sum(axis=1), np.inf)
    best = costs.min()
    # ties up to the rounding of a sum of N terms a_i C_ij: N eps sum_i a_i max_j |C_ij| bounds its error
    tie = N * np.finfo(np.float64).eps * float(a @ np.abs(C).max(axis=1))
    num_optimal = int(np.sum(np.abs(costs - best) <= tie))
    return MongeResult(maps[np.argmin(costs)], float(best), num_optimal)


def independent_coupling(a: Any, b: Any) -> np.ndarray:
    r"""The independent coupling :math:`\mu\nu^\top \in \Pi(\mu,\nu)` (Remark 5.3, Exercise 5.3)."""
    return np.outer(_weights(a, "a"), _weights(b, "b"))


def is_coupling(P: Any, a: Any, b: Any, *, atol: float | None = None) -> bool:
    r"""Membership of :math:`P` in :math:`\Pi(\mu,\nu) = \{P \ge 0: P 1_M = \mu,\ P^\top 1_N = \nu\}`, eq. (5.5).

    ``atol`` (default: the rounding level :math:`\sqrt\epsilon` of the least precise dtype among ``P``, ``a``,
    ``b``, times the mass of ``a``: 1.5e-8 for float64, 3.5e-4 for float32) bounds the marginal errors and the
    negative entries.
    """
    raw = [np.asarray(v) for v in (P, a, b)]
    P, a, b = raw[0].astype(np.float64), _weights(a, "a"), _weights(b, "b")
    if atol is None:
        atol = rounding_tolerance(*raw) * max(float(a.sum()), float(np.finfo(np.float64).tiny))
    if P.shape != (a.size, b.size):
        raise ValueError(f"'P' must have shape {(a.size, b.size)}; got {P.shape}")
    return bool(np.all(P >= -atol) and np.allclose(P.sum(1), a, atol=atol, rtol=0)
                and np.allclose(P.sum(0), b, atol=atol, rtol=0))
