r"""Dirichlet-process random measures (course §4.2): stick-breaking, the CRP and the Pólya urn.

Stick-breaking (GEM, course Def. 4.3 with the erratum fixed):

.. math:: V_k \sim \mathrm{Beta}(1, \alpha), \qquad C_k = V_k \prod_{j<k} (1 - V_j), \qquad
          \Theta = \sum_k C_k \delta_{\Phi_k},\ \Phi_k \sim G.

The weights have :math:`\mathbb E[C_k] = \alpha^{k-1}/(1+\alpha)^k`; after truncation at :math:`K`
the leftover mass :math:`R_K = \prod_{k \le K}(1-V_k)` has :math:`\mathbb E[R_K] = (\alpha/(1+\alpha))^K`,
and the truncated DP mixture of :math:`N` points has total-variation error at most
:math:`4N e^{-(K-1)/\alpha}` (Ishwaran and James, 2001).

The Chinese restaurant process is the law of the partition induced by :math:`N` draws from
:math:`\Theta`; with :math:`n_k` customers at table :math:`k`, customer :math:`i+1` joins table
:math:`k` w.p. :math:`n_k/(\alpha+i)` or opens a new one w.p. :math:`\alpha/(\alpha+i)`, so the
expected number of tables is :math:`\sum_{i=0}^{N-1}\alpha/(\alpha+i)`. The Pólya urn adds atoms:
new tables draw :math:`\Phi \sim G` (the DP predictive, course §4.2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "StickBreaking", "stick_breaking", "expected_stick_weights", "truncation_level",
    "truncation_error_bound", "DPDraw", "dp_draw", "crp_sample", "polya_urn", "PolyaUrn",
    "expected_num_clusters",
]


def _alpha(alpha: float) -> float:
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha (the DP concentration) must be positive, got {alpha!r}")
    return float(alpha)


def _count(value: int, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class StickBreaking(NamedTuple):
    """Truncated stick-breaking draws: ``sticks`` V and ``weights`` C of shape (num_samples, K), and the
    ``leftover`` mass :math:`\\prod_k (1-V_k)` of shape (num_samples,)."""

    sticks: np.ndarray
    weights: np.ndarray
    leftover: np.ndarray


def stick_breaking(alpha: float, truncation: int, num_samples: int = 1, *, seed: int = 0) -> StickBreaking:
    """Draw GEM(alpha) weights truncated at ``truncation`` sticks (course Def. 4.3, Fig. 4.4).

    The weights are computed in log space, :math:`\\log C_k = \\log V_k + \\sum_{j<k}\\log(1-V_j)`.
    """
    a, K, S = _alpha(alpha), _count(truncation, "truncation"), _count(num_samples, "num_samples")
    V = np.random.default_rng(seed).beta(1.0, a, size=(S, K))
    log_rest = np.cumsum(np.log1p(-V), axis=1)
    log_prefix = np.concatenate([np.zeros((S, 1)), log_rest[:, :-1]], axis=1)
    return StickBreaking(V, np.exp(np.log(V) + log_prefix), np.exp(log_rest[:, -1]))


def expected_stick_weights(alpha: float, truncation: int) -> np.ndarray:
    r""":math:`\mathbb E[C_k] = \alpha^{k-1}/(1+\alpha)^k` for :math:`k = 1..K`."""
    a, K = _alpha(alpha), _count(truncation, "truncation")
    k = np.arange(1, K + 1)
    return np.exp((k - 1) * np.log(a) - k * np.log1p(a))


def truncation_error_bound(alpha: float, truncation: int, num_data: int) -> float:
    r"""Ishwaran-James bound :math:`4N\exp(-(K-1)/\alpha)` on the total-variation error of truncation."""
    a, K, N = _alpha(alpha), _count(truncation, "truncation"), _count(num_data, "num_data")
    return float(4.0 * N * np.exp(-(K - 1) / a))


def truncation_level(alpha: float, tolerance: float) -> int:
    r"""Smallest :math:`K` with expected leftover mass :math:`(\alpha/(1+\alpha))^K \le` ``tolerance``."""
    a = _alpha(alpha)
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must lie in (0, 1), got {tolerance!r}")
    return max(1, int(np.ceil(np.log(tolerance) / (np.log(a) - np.log1p(a)))))


class DPDraw(NamedTuple):
    """A truncated DP draw :math:`\\sum_k C_k\\delta_{\\Phi_k}`: ``weights`` (K,), ``atoms`` (K, ...)."""

    weights: np.ndarray
    atoms: np.ndarray
    leftover: float


def dp_draw(alpha: float, base_sampler: Callable[[np.random.Generator, int], np.ndarray], truncation: int,
            *, seed: int = 0) -> DPDraw:
    """One truncated draw from DP(alpha, G); ``base_sampler(rng, K)`` returns K atoms from G (Fig. 4.5)."""
    rng = np.random.default_rng(seed)
    sb = stick_breaking(alpha, truncation, 1, seed=int(rng.integers(2**63)))
    atoms = np.asarray(base_sampler(rng, truncation))
    if atoms.shape[:1] != (truncation,):
        raise ValueError(f"base_sampler returned shape {atoms.shape}; expected ({truncation}, ...)")
    return DPDraw(sb.weights[0], atoms, float(sb.leftover[0]))


def crp_sample(alpha: float, num_customers: int, num_samples: int = 1, *, seed: int = 0) -> np.ndarray:
    """Table assignments from the Chinese restaurant process, shape (num_samples, num_customers).

    Tables are numbered in order of opening. The ``num_samples`` restaurants are simulated together:
    the loop runs over customers (the process is sequential), vectorised across restaurants.
    """
    a, N, S = _alpha(alpha), _count(num_customers, "num_customers"), _count(num_samples, "num_samples")
    rng = np.random.default_rng(seed)
    tables = np.zeros((S, N), dtype=np.int64)
    counts = np.zeros((S, N + 1))
    counts[:, 0] = 1.0
    num_tables = np.ones(S, dtype=np.int64)
    rows = np.arange(S)
    u = rng.uniform(size=(S, N))
    for i in range(1, N):
        # P(table k) = n_k / (alpha + i); P(new) = alpha / (alpha + i).
        new = u[:, i] < a / (a + i)
        cum = np.cumsum(counts, axis=1)
        existing = (cum <= (u[:, i] - a / (a + i))[:, None] / (i / (a + i)) * i).sum(axis=1)
        choice = np.where(new, num_tables, np.minimum(existing, num_tables - 1))
        tables[:, i] = choice
        counts[rows, choice] += 1.0
        num_tables += new
    return tables


class PolyaUrn(NamedTuple):
    """Pólya-urn draws :math:`\\phi_{1:N}`: ``values`` (num_customers, ...), their ``tables`` and the
    distinct ``atoms`` (num_tables, ...)."""

    values: np.ndarray
    tables: np.ndarray
    atoms: np.ndarray


def polya_urn(alpha: float, base_sampler: Callable[[np.random.Generator, int], np.ndarray],
              num_customers: int, *, seed: int = 0) -> PolyaUrn:
    r"""Sample :math:`\phi_{i+1} \mid \phi_{1:i} \sim (\alpha G + \sum_{j\le i}\delta_{\phi_j})/(\alpha+i)`.

    Equivalent to a CRP partition with one base draw per table (the DP posterior predictive, §4.2).
    """
    rng = np.random.default_rng(seed)
    tables = crp_sample(alpha, num_customers, 1, seed=int(rng.integers(2**63)))[0]
    atoms = np.asarray(base_sampler(rng, int(tables.max()) + 1))
    return PolyaUrn(atoms[tables], tables, atoms)


def expected_num_clusters(alpha: ArrayLike, num_data: int) -> float | np.ndarray:
    r""":math:`\mathbb E[K_N] = \sum_{i=0}^{N-1} \alpha/(\alpha+i)` (broadcasts over an array of alphas: a
    ``numpy.float64`` for a scalar ``alpha``, an array of its shape otherwise)."""
    N = _count(num_data, "num_data")
    a = np.asarray(alpha, dtype=np.float64)
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha must be positive, got {alpha!r}")
    i = np.arange(N)
    return (a[..., None] / (a[..., None] + i)).sum(-1)
