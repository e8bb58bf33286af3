"""Sum- and max-product belief propagation on factor graphs: exact on trees, loopy with damping elsewhere.

Messages between variables :math:`v` and factors :math:`a` (all in log space, normalised each sweep):

.. math::

    m_{v\\to a}(x_v) = \\prod_{b\\in N(v)\\setminus a} m_{b\\to v}(x_v), \\qquad
    m_{a\\to v}(x_v) = \\bigoplus_{x_{S_a\\setminus v}} \\phi_a(x_{S_a}) \\prod_{u\\in S_a\\setminus v} m_{u\\to a}(x_u),

with :math:`\\oplus=\\sum` (sum-product) or :math:`\\max` (max-product), updated in parallel ("flooding").
Beliefs are :math:`b_v\\propto\\prod_{a\\in N(v)}m_{a\\to v}` and :math:`b_a\\propto\\phi_a\\prod_u m_{u\\to a}`. The
Bethe approximation of the log partition function,

.. math::

    \\log Z_{\\mathrm{Bethe}} = \\sum_a\\sum_{x_a} b_a\\,(\\log\\phi_a - \\log b_a) + \\sum_v (d_v-1)\\sum_{x_v} b_v\\log b_v,

is exact on trees (:math:`d_v` is the number of factors touching :math:`v`). Damping mixes each new message
with the old one, :math:`m\\leftarrow(1-\\lambda)m^{\\mathrm{new}}+\\lambda m^{\\mathrm{old}}`, which often makes
loopy BP converge where the undamped iteration oscillates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged

from .factors import FactorGraph, logsumexp

__all__ = ["BeliefPropagationResult", "belief_propagation"]

_KINDS = ("sum", "max")


@dataclass(frozen=True, slots=True)
class BeliefPropagationResult:
    """Result of :func:`belief_propagation`.

    Attributes
    ----------
    marginals
        ``{variable: vector}``: beliefs :math:`b_v` (``kind="sum"``) or normalised max-marginals (``"max"``),
        for the unobserved variables.
    log_value
        ``kind="sum"``: the Bethe estimate of :math:`\\log Z` (exact on trees; :math:`\\log p(e)` for a Bayesian
        network). ``kind="max"``: :math:`\\sum_a\\log\\phi_a` at ``assignment``.
    assignment
        ``{variable: state}``: the argmax of each belief (the MAP assignment for max-product on a tree
        without ties).
    converged
        Whether the stopping rule fired (the largest message change fell below ``tol``, or below ``tol``
        times the largest message entry under ``tol_rule="relative"``).
    num_iterations
        Sweeps run.
    residuals
        Largest absolute change of a message (in probability space) at each sweep.
    stop_reason, rule
        ``"tol"`` or ``"max_iter"``, and the tolerance rule checked (``tol_rule``).
    """

    marginals: dict[str, np.ndarray]
    log_value: float
    assignment: dict[str, int]
    converged: bool
    num_iterations: int
    residuals: np.ndarray
    stop_reason: str = "max_iter"
    rule: str = "absolute"


def _reduce(table: np.ndarray, axes: tuple[int, ...], kind: str) -> np.ndarray:
    if not axes:
        return table
    return logsumexp(table, axis=axes) if kind == "sum" else table.max(axis=axes)


class _ZeroMessage(Exception):
    """A message or belief that is zero for every state of ``variable``: no configuration is possible."""

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


def _normalize(log_msg: np.ndarray, kind: str, variable: str = "") -> np.ndarray:
    """Shift a log-message to sum (or peak) at one. A message of zeros everywhere raises :class:`_ZeroMessage`:
    BP's zeros are sound (a state gets probability zero only when no configuration allows it, on loopy graphs
    too), so such a message proves that the evidence has probability zero."""
    top = logsumexp(log_msg) if kind == "sum" else log_msg.max()
    if top == -np.inf:
        raise _ZeroMessage(variable)
    return log_msg - top


def belief_propagation(graph: FactorGraph, *, evidence: Mapping[str, int | str] | None = None,
                       kind: str = "sum", damping: float = 0.0, max_iter: int = 200,
                       tol: float = 1e-10, tol_rule: str = "absolute") -> BeliefPropagationResult:
    """Run (loopy) sum- or max-product belief propagation with a flooding schedule.

    Parameters
    ----------
    graph
        The model as a :class:`FactorGraph`.
    evidence
        ``{variable: state}``; the factors are reduced before passing messages.
    kind
        ``"sum"`` (marginals, Bethe :math:`\\log Z`) or ``"max"`` (max-marginals, MAP decoding).
    damping
        :math:`\\lambda\\in[0,1)`, the weight of the old message.
    max_iter, tol, tol_rule
        Stop after ``max_iter`` sweeps or when the largest message change (in probability space) is below
        ``tol`` (``tol_rule="absolute"``, the default) or below ``tol`` times the largest previous message entry
        (``"relative"``), checked by :func:`pgm_ppl.core.has_converged`.

    Raises
    ------
    ValueError
        If ``kind`` or ``damping`` is invalid, or the evidence has probability zero under the model (a factor that
        is zero everywhere once conditioned, or a message or belief that is zero for every state of a variable);
        as in :func:`~pgm_ppl.graphical.variable_elimination` and the junction tree.

    Notes
    -----
    On a tree (an acyclic factor graph) the result is exact after as many sweeps as the graph's diameter, and
    evidence of probability zero is always detected. On a loopy graph the zeros BP finds are sound but not
    complete (they are those of arc consistency): contradictions that only a whole cycle reveals go unnoticed,
    as does everything else the Bethe approximation misses; use the junction tree to be sure.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}.")
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must lie in [0, 1), got {damping}.")
    rule = check_tol_rule(tol_rule)
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}.")
    conditioned = graph.condition(evidence)
    try:
        for f in conditioned.factors:
            if np.all(f.log_values == -np.inf):
                raise _ZeroMessage(", ".join(f.variables) or "the observed variables")
        return _run(conditioned, kind, damping, int(max_iter), tol, rule)
    except _ZeroMessage as zero:
        if not evidence:
            raise ValueError(f"The model gives probability zero to every configuration: no state of "
                             f"{zero.variable!r} is possible (belief propagation; log Z = -inf).") from None
        raise ValueError(f"The evidence has probability zero under the model: {dict(evidence)} leaves no possible "
                         f"state of {zero.variable!r} (belief propagation; log Z = -inf).") from None


def _run(conditioned: FactorGraph, kind: str, damping: float, max_iter: int,
         tol: float, rule: str) -> BeliefPropagationResult:
    factors = conditioned.factors
    cards = conditioned.cardinalities
    touching: dict[str, list[int]] = {v: [] for v in cards}
    for a, f in enumerate(factors):
        for v in f.variables:
            touching[v].append(a)
    to_var = {(a, v): np.full(cards[v], -np.log(cards[v])) for a, f in enumerate(factors) for v in f.variables}
    residuals, converged = [], False
    for _ in range(max_iter):
        to_factor = _var_to_factor(to_var, touching, cards, kind)
        change = scale = 0.0
        new_to_var = {}
        for a, f in enumerate(factors):
            for i, v in enumerate(f.variables):
                total = f.log_values
                for u in f.variables:
                    if u != v:
                        total = total + _expand(to_factor[(u, a)], f.variables.index(u), f.log_values.ndim)
                new = _normalize(_reduce(total, tuple(j for j in range(len(f.variables)) if j != i), kind), kind, v)
                old = to_var[(a, v)]
                if damping > 0.0:
                    new = _normalize(np.logaddexp(np.log1p(-damping) + new, np.log(damping) + old), kind, v)
                change = max(change, float(np.abs(np.exp(new) - np.exp(old)).max()))
                scale = max(scale, float(np.exp(old).max()))
                new_to_var[(a, v)] = new
        to_var = new_to_var
        residuals.append(change)
        if has_converged(scale, scale + change, tol, rule):  # change against tol or tol * scale
            converged = True
            break
    if not converged:
        warn_not_converged("belief_propagation", max_iter, hint=f"the largest message change is still "
                           f"{residuals[-1]:.3g} (tol={tol}, {rule}); raise max_iter or add damping (loopy graphs).",
                           stacklevel=user_stacklevel())
    beliefs = {v: _normalize(sum((to_var[(a, v)] for a in touching[v]), np.zeros(cards[v])), kind, v)
               for v in cards}
    assignment = {v: int(np.argmax(b)) for v, b in beliefs.items()}
    if kind == "sum":
        log_value = _bethe(factors, beliefs, _var_to_factor(to_var, touching, cards, kind), touching)
    else:
        log_value = float(sum(f.log_values[tuple(assignment[v] for v in f.variables)] for f in factors))
    return BeliefPropagationResult({v: np.exp(b) for v, b in beliefs.items()}, log_value, assignment,
                                   converged, len(residuals), np.asarray(residuals),
                                   "tol" if converged else "max_iter", rule)


def _expand(vector: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    return vector.reshape([-1 if j == axis else 1 for j in range(ndim)])


def _var_to_factor(to_var, touching, cards, kind) -> dict:
    return {(v, a): _normalize(sum((to_var[(b, v)] for b in touching[v] if b != a), np.zeros(cards[v])), kind, v)
            for v in cards for a in touching[v]}


def _bethe(factors, beliefs, to_factor, touching) -> float:
    """Bethe log partition function :math:`-F_{\\mathrm{Bethe}}` from factor and variable beliefs."""
    with np.errstate(invalid="ignore"):
        return _bethe_terms(factors, beliefs, to_factor, touching)


def _bethe_terms(factors, beliefs, to_factor, touching) -> float:
    total = 0.0
    for a, f in enumerate(factors):
        log_b = f.log_values.copy()
        for i, u in enumerate(f.variables):
            log_b = log_b + _expand(to_factor[(u, a)], i, f.log_values.ndim)
        log_b = log_b - logsumexp(log_b)
        b = np.exp(log_b)
        total += float(np.sum(np.where(b > 0, b * (f.log_values - log_b), 0.0)))
    for v, b_log in beliefs.items():
        b = np.exp(b_log)
        total += (len(touching[v]) - 1) * float(np.sum(np.where(b > 0, b * b_log, 0.0)))
    return total
