"""Pairwise Markov random fields (Ising, Potts): mean-field coordinate ascent and Gibbs sampling.

A pairwise MRF over :math:`x_1,\\dots,x_n\\in\\{0,\\dots,K-1\\}` with unary and edge log-potentials,

.. math::

    p(x) = \\frac{1}{Z}\\exp\\Big(\\sum_i\\theta_i(x_i) + \\sum_{(i,j)\\in E}\\theta_{ij}(x_i,x_j)\\Big).

The Ising model takes :math:`K=2`, spins :math:`s=2x-1\\in\\{-1,+1\\}`, :math:`\\theta_i(s)=h_i s` and
:math:`\\theta_{ij}(s,t)=J s t`; the Potts model takes :math:`\\theta_{ij}(k,l)=J\\,\\mathbb 1\\{k=l\\}`.

Mean-field (course eq. (3.11)-(3.13), CAVI) keeps :math:`q(x)=\\prod_i q_i(x_i)` and sets

.. math::

    \\log q_i(k) = \\theta_i(k) + \\sum_{j\\in N(i)}\\sum_l q_j(l)\\,\\theta_{ij}(k,l) + \\text{const},

which never decreases the ELBO :math:`\\mathbb E_q[\\log\\tilde p(x)] + H(q)\\le\\log Z`. Gibbs sampling (course
eq. (3.3)) draws :math:`x_i` from its full conditional, whose logits are the same expression with
:math:`q_j` replaced by the current :math:`x_j`. Both update all sites of one colour of a greedy graph
colouring at once (same-colour sites are conditionally independent), so a sweep is a few array operations.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import ConvergenceWarning, check_tol_rule, has_converged, warn_not_converged

from .factors import Factor, FactorGraph

__all__ = ["PairwiseMRF", "ising_grid", "potts_grid", "MeanFieldResult", "mean_field", "GibbsResult",
           "gibbs_sample"]


@dataclass(frozen=True, eq=False)
class PairwiseMRF:
    """A pairwise Markov random field with log-potentials.

    Parameters
    ----------
    unary
        :math:`\\theta_i(k)`, shape ``(n, K)``; ``-inf`` marks an impossible state.
    edges
        Integer pairs :math:`(i,j)`, shape ``(E, 2)``.
    pairwise
        :math:`\\theta_{ij}(k,l)`, shape ``(E, K, K)`` (first axis: state of ``edges[e, 0]``); ``-inf`` marks an
        impossible pair of states (a hard constraint).
    names
        Variable names (default ``x0, x1, ...``).

    Raises
    ------
    ValueError
        If a shape is wrong, an edge is a loop or names an unknown site, or a log-potential is NaN or ``+inf``.
    """

    unary: np.ndarray
    edges: np.ndarray
    pairwise: np.ndarray
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        unary = np.asarray(self.unary, dtype=np.float64)
        edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        pairwise = np.asarray(self.pairwise, dtype=np.float64)
        if unary.ndim != 2:
            raise ValueError(f"unary must have shape (n, K), got {unary.shape}.")
        n, k = unary.shape
        if pairwise.shape != (len(edges), k, k):
            raise ValueError(f"pairwise must have shape (E, K, K) = {(len(edges), k, k)}, got {pairwise.shape}.")
        if len(edges) and (edges.min() < 0 or edges.max() >= n or (edges[:, 0] == edges[:, 1]).any()):
            raise ValueError(f"edges must join two different sites in [0, {n - 1}].")
        for name, value in (("unary", unary), ("pairwise", pairwise)):
            bad = np.isnan(value) | np.isposinf(value)
            if bad.any():
                raise ValueError(f"{name}: expected finite log-potentials or -inf (impossible), got "
                                 f"{int(bad.sum())} NaN or +inf entries, the first at index "
                                 f"{tuple(int(i) for i in np.argwhere(bad)[0])}.")
        names = tuple(self.names) if self.names is not None else tuple(f"x{i}" for i in range(n))
        if len(names) != n:
            raise ValueError(f"names has {len(names)} entries for {n} sites.")
        for attr, value in (("unary", unary), ("edges", edges), ("pairwise", pairwise), ("names", names)):
            object.__setattr__(self, attr, value)

    @property
    def num_sites(self) -> int:
        """Number of variables :math:`n`."""
        return self.unary.shape[0]

    @property
    def num_states(self) -> int:
        """Number of states :math:`K` per variable."""
        return self.unary.shape[1]

    def to_factor_graph(self) -> FactorGraph:
        """One unary factor per site and one pairwise factor per edge, for exact inference or BP."""
        factors = [Factor((name,), theta) for name, theta in zip(self.names, self.unary)]
        factors += [Factor((self.names[i], self.names[j]), theta) for (i, j), theta in zip(self.edges, self.pairwise)]
        return FactorGraph(tuple(factors))

    def log_potential(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\sum_i\\theta_i(x_i)+\\sum_{ij}\\theta_{ij}(x_i,x_j)` for states ``x`` of shape ``(..., n)``."""
        x = np.asarray(x)
        out = np.take_along_axis(np.broadcast_to(self.unary, x.shape + (self.num_states,)),
                                 x[..., None], -1)[..., 0].sum(-1)
        pair = self.pairwise[np.arange(len(self.edges)), x[..., self.edges[:, 0]], x[..., self.edges[:, 1]]]
        return out + pair.sum(-1)

    def colouring(self) -> list[np.ndarray]:
        """Greedy graph colouring: sites of one colour share no edge."""
        nbrs: list[set[int]] = [set() for _ in range(self.num_sites)]
        for i, j in self.edges:
            nbrs[i].add(int(j))
            nbrs[j].add(int(i))
        colour = np.full(self.num_sites, -1)
        for i in range(self.num_sites):
            used = {colour[j] for j in nbrs[i]}
            colour[i] = min(c for c in range(len(used) + 1) if c not in used)
        return [np.flatnonzero(colour == c) for c in range(colour.max() + 1)]

    def _incidence(self, sites: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Sparse maps from edge contributions to ``sites`` (as first and as second endpoint)."""
        row = {int(s): r for r, s in enumerate(sites)}
        mats = []
        for end in (0, 1):
            e = np.array([k for k, i in enumerate(self.edges[:, end]) if int(i) in row], dtype=np.int64)
            r = np.array([row[int(i)] for i in self.edges[e, end]], dtype=np.int64)
            mats.append(sp.csr_matrix((np.ones(len(e)), (r, e)), shape=(len(sites), len(self.edges))))
        return mats[0], mats[1]


def _grid_edges(height: int, width: int, periodic: bool) -> np.ndarray:
    idx = np.arange(height * width).reshape(height, width)
    right = np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1)
    down = np.stack([idx[:-1, :].ravel(), idx[1:, :].ravel()], 1)
    parts = [right, down]
    if periodic:
        if width > 2:
            parts.append(np.stack([idx[:, -1], idx[:, 0]], 1))
        if height > 2:
            parts.append(np.stack([idx[-1, :], idx[0, :]], 1))
    return np.concatenate(parts)


def ising_grid(height: int, width: int, coupling: float, field: float | np.ndarray = 0.0, *,
               periodic: bool = False) -> PairwiseMRF:
    """Ising model :math:`p(s)\\propto\\exp(J\\sum_{\\langle ij\\rangle}s_is_j+\\sum_i h_is_i)` on a grid.

    State 0 is spin :math:`-1` and state 1 is spin :math:`+1`; sites are numbered row by row and named
    ``x{row}_{col}``.
    """
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"height and width must be positive, got {height} x {width}.")
    n = int(height) * int(width)
    h = np.asarray(field, dtype=np.float64)
    if h.ndim == 0:
        h = np.full(n, float(h))
    h = h.reshape(-1)
    if h.shape != (n,):
        raise ValueError(f"field must be a scalar or have {n} entries (one per site), got shape {np.shape(field)}.")
    spins = np.array([-1.0, 1.0])
    edges = _grid_edges(int(height), int(width), periodic)
    pairwise = np.broadcast_to(float(coupling) * np.outer(spins, spins), (len(edges), 2, 2)).copy()
    names = tuple(f"x{r}_{c}" for r in range(int(height)) for c in range(int(width)))
    return PairwiseMRF(h[:, None] * spins[None, :], edges, pairwise, names)


def potts_grid(height: int, width: int, num_states: int, coupling: float, *,
               unary: np.ndarray | None = None, periodic: bool = False) -> PairwiseMRF:
    """Potts model on a grid, :math:`p(x)\\propto\\exp(J\\sum_{\\langle ij\\rangle}\\mathbb 1\\{x_i=x_j\\}+\\sum_i\\theta_i(x_i))`."""
    n = int(height) * int(width)
    theta = np.zeros((n, int(num_states))) if unary is None else np.asarray(unary, dtype=np.float64)
    if theta.shape != (n, int(num_states)):
        raise ValueError(f"unary must have shape {(n, int(num_states))}, got {theta.shape}.")
    edges = _grid_edges(int(height), int(width), periodic)
    pairwise = np.broadcast_to(float(coupling) * np.eye(int(num_states)), (len(edges),) + (int(num_states),) * 2)
    names = tuple(f"x{r}_{c}" for r in range(int(height)) for c in range(int(width)))
    return PairwiseMRF(theta, edges, pairwise.copy(), names)


@dataclass(frozen=True, slots=True)
class MeanFieldResult:
    """Result of :func:`mean_field`: factors ``q`` (shape ``(n, K)``), final ELBO, ELBO per sweep, whether and why it
    stopped (``stop_reason`` ``"tol"`` or ``"max_iter"``) and the tolerance ``rule`` checked."""

    q: np.ndarray
    elbo: float
    elbo_history: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "absolute"


def _mean_field_elbo(mrf: PairwiseMRF, q: np.ndarray) -> float:
    """:math:`\\mathbb E_q[\\log\\tilde p] + H(q)`, a lower bound on :math:`\\log Z` (an impossible state with
    :math:`q_i(k) = 0` adds nothing: :math:`0\\cdot(-\\infty) = 0`)."""
    i, j = mrf.edges[:, 0], mrf.edges[:, 1]
    energy = np.sum(q * np.where(q > 0, mrf.unary, 0.0)) + np.einsum("ek,ekl,el->", q[i], mrf.pairwise, q[j])
    entropy = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0))
    return float(energy + entropy)


def mean_field(mrf: PairwiseMRF, *, max_iter: int = 500, tol: float = 1e-10, tol_rule: str = "absolute",
               init: np.ndarray | None = None, seed: int = 0) -> MeanFieldResult:
    """Naive mean-field (CAVI) for a pairwise MRF, one colour class at a time.

    Parameters
    ----------
    mrf
        The model.
    max_iter, tol, tol_rule
        Stop after ``max_iter`` sweeps or when the ELBO changes by less than ``tol`` (``tol_rule="absolute"``,
        the default) or by less than ``tol`` times its magnitude (``"relative"``).
    init
        Initial factors, shape ``(n, K)``; by default the unary softmax with a small random tilt drawn from
        ``seed`` (the tilt breaks the symmetry of a zero-field Ising model).

    Raises
    ------
    ValueError
        If ``init`` has the wrong shape, negative or non-finite entries or a zero row; if every state of a site has
        unary log-potential ``-inf`` (every configuration is impossible, :math:`\\log Z = -\\infty`); or if a
        pairwise log-potential is ``-inf``: a hard constraint makes :math:`\\mathbb E_q[\\log\\tilde p] = -\\infty`
        for every factorised :math:`q` that gives both states of a forbidden pair positive mass, the uniform
        start included, so coordinate ascent has nothing to climb (use :func:`belief_propagation` or the
        junction tree, or a large finite penalty).
    """
    rule = check_tol_rule(tol_rule)
    n, k = mrf.num_sites, mrf.num_states
    if np.isneginf(mrf.pairwise).any():
        e = int(np.argwhere(np.isneginf(mrf.pairwise))[0][0])
        raise ValueError(f"pairwise: expected finite log-potentials for mean field, got -inf (a hard constraint) on "
                         f"the edge ({mrf.names[mrf.edges[e, 0]]}, {mrf.names[mrf.edges[e, 1]]}); use "
                         "belief_propagation or the junction tree, or a large finite penalty.")
    dead = np.flatnonzero(np.isneginf(mrf.unary).all(1))
    if dead.size:
        raise ValueError(f"unary: expected a possible state at every site, got -inf for every state of "
                         f"{mrf.names[dead[0]]!r}: every configuration has probability zero (log Z = -inf).")
    if init is None:
        rng = np.random.default_rng(seed)
        q = softmax(mrf.unary + 0.5 * rng.standard_normal((n, k)), axis=1)
    else:
        q = np.asarray(init, dtype=np.float64)
        if q.shape != (n, k) or not np.isfinite(q).all() or (q < 0).any() or (q.sum(1) <= 0).any():
            raise ValueError(f"init: expected non-negative finite rows with positive sums, shape {(n, k)}, got "
                             f"shape {q.shape}" + ("" if q.shape != (n, k) else " with a negative, non-finite or "
                                                   "all-zero row") + ".")
        q = q / q.sum(1, keepdims=True)
    plan = [(sites, *mrf._incidence(sites)) for sites in mrf.colouring()]
    i, j = mrf.edges[:, 0], mrf.edges[:, 1]
    history, converged = [_mean_field_elbo(mrf, q)], False
    for _ in range(int(max_iter)):
        for sites, first, second in plan:
            as_first = np.einsum("ekl,el->ek", mrf.pairwise, q[j])
            as_second = np.einsum("ekl,ek->el", mrf.pairwise, q[i])
            logits = mrf.unary[sites] + first @ as_first + second @ as_second
            q[sites] = softmax(logits, axis=1)
        history.append(_mean_field_elbo(mrf, q))
        if has_converged(history[-2], history[-1], tol, rule):
            converged = True
            break
    if not converged:
        warn_not_converged("mean_field", int(max_iter), hint=f"the ELBO still changed by more than tol={tol} ({rule}); "
                           "raise max_iter.", stacklevel=user_stacklevel())
    return MeanFieldResult(q, history[-1], np.asarray(history), converged, len(history) - 1,
                          "tol" if converged else "max_iter", rule)


class GibbsResult(NamedTuple):
    """Result of :func:`gibbs_sample`: ``samples`` of shape ``(num_chains, num_samples, n)`` and ``num_states``."""

    samples: np.ndarray
    num_states: int

    def marginals(self) -> np.ndarray:
        """Monte Carlo estimates of :math:`p(x_i=k)`, shape ``(n, K)``, pooled over chains and draws."""
        flat = self.samples.reshape(-1, self.samples.shape[-1])
        return np.stack([(flat == s).mean(0) for s in range(self.num_states)], axis=1)


def gibbs_sample(mrf: PairwiseMRF, num_samples: int, *, num_chains: int = 4, num_warmup: int = 100,
                 thin: int = 1, init: np.ndarray | None = None, seed: int = 0) -> GibbsResult:
    """Systematic-scan Gibbs sampler by colour classes, vectorised over chains (course eq. (3.3)).

    Parameters
    ----------
    mrf
        The model.
    num_samples, num_warmup, thin
        Kept draws per chain, discarded initial sweeps, sweeps between kept draws.
    num_chains
        Independent chains run side by side.
    init
        Initial states, shape ``(num_chains, n)``; by default uniform random from ``seed``.

    Warns
    -----
    pgm_ppl.core.ConvergenceWarning
        When ``pairwise`` has ``-inf`` entries (hard constraints) and the chains disagree (the Gelman-Rubin
        :math:`\\hat R` of a state indicator above 1.1, Gelman & Rubin 1992): single-site updates cannot cross a
        hard constraint (an equality constraint keeps every chain at its start), so the chain is reducible and its
        marginals are those of where it started, not of :math:`p`.
    """
    for name, value, low in (("num_samples", num_samples, 1), ("num_chains", num_chains, 1),
                             ("num_warmup", num_warmup, 0), ("thin", thin, 1)):
        if int(value) < low:
            raise ValueError(f"{name} must be at least {low}, got {value}.")
    rng = np.random.default_rng(seed)
    n, k = mrf.num_sites, mrf.num_states
    x = rng.integers(0, k, size=(int(num_chains), n)) if init is None else np.array(init, dtype=np.int64)
    if x.shape != (int(num_chains), n) or x.min() < 0 or x.max() >= k:
        raise ValueError(f"init must hold states in [0, {k - 1}] with shape {(int(num_chains), n)}.")
    plan = [(sites, *mrf._incidence(sites)) for sites in mrf.colouring()]
    e = np.arange(len(mrf.edges))
    i, j = mrf.edges[:, 0], mrf.edges[:, 1]
    out = np.empty((int(num_chains), int(num_samples), n), dtype=np.int64)
    c = int(num_chains)
    for sweep in range(int(num_warmup) + int(num_samples) * int(thin)):
        for sites, first, second in plan:
            as_first = mrf.pairwise[e, :, x[:, j]]          # (chains, E, K): theta_ij(k, x_j)
            as_second = mrf.pairwise[e, x[:, i], :]         # (chains, E, K): theta_ij(x_i, k)
            field = (first @ as_first.transpose(1, 0, 2).reshape(len(e), c * k)
                     + second @ as_second.transpose(1, 0, 2).reshape(len(e), c * k))
            logits = mrf.unary[sites][None] + field.reshape(len(sites), c, k).transpose(1, 0, 2)
            x[:, sites] = np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1)
        kept = sweep - int(num_warmup)
        if kept >= 0 and kept % int(thin) == 0:
            out[:, kept // int(thin)] = x
    if np.isneginf(mrf.pairwise).any() and c > 1:
        _warn_if_chains_disagree(out, k, mrf.names)
    return GibbsResult(out, k)


def _warn_if_chains_disagree(samples: np.ndarray, num_states: int, names: tuple[str, ...]) -> None:
    """ConvergenceWarning when a state indicator's Gelman-Rubin R-hat across chains exceeds 1.1 (infinite when
    every chain is constant but they differ: a reducible chain)."""
    draws = samples.shape[1]
    indicator = (samples[..., None] == np.arange(num_states)).astype(np.float64)   # (chains, draws, n, K)
    means = indicator.mean(1)
    within = indicator.var(1, ddof=1).mean(0) if draws > 1 else np.zeros(means.shape[1:])
    between = draws * means.var(0, ddof=1)
    pooled = (draws - 1) / draws * within + between / draws
    with np.errstate(divide="ignore", invalid="ignore"):
        r_hat = np.where(pooled > 0, np.sqrt(pooled / within), 1.0)
    if (r_hat > 1.1).any():
        site = int(np.argwhere(r_hat > 1.1)[0][0])
        warnings.warn(f"gibbs_sample: the chains disagree (R-hat {float(r_hat.max()):.3g} > 1.1 at site "
                      f"{names[site]!r}) and pairwise has -inf entries: single-site Gibbs cannot cross a hard "
                      "constraint, so the chains may be stuck where they started and the marginals wrong; use "
                      "the junction tree or belief propagation, or finite penalties.", ConvergenceWarning,
                      stacklevel=user_stacklevel())
