"""Variable elimination with min-fill / min-degree orders and opt_einsum contractions.

Eliminating a variable :math:`y` replaces the factors that mention it by one new factor,

.. math::

    \\tau(x_{N(y)}) = \\sum_{y} \\prod_{a:\\, y\\in S_a} \\phi_a(x_{S_a}),

so that after eliminating every non-query variable the remaining product is the unnormalised marginal of
the query and its total mass is the partition function :math:`Z` (the evidence probability :math:`p(e)`
for a Bayesian network conditioned on :math:`e`). The order fixes the cost: greedy min-fill adds the fewest
new edges to the interaction graph, min-degree picks the variable with fewest neighbours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import opt_einsum

from .factors import Factor, FactorGraph, factor_product

__all__ = ["EliminationResult", "elimination_order", "variable_elimination", "log_partition"]

_HEURISTICS = ("min_fill", "min_degree")


class EliminationResult(NamedTuple):
    """Result of :func:`variable_elimination`.

    Attributes
    ----------
    marginal
        Normalised joint marginal of the query variables (a :class:`Factor`, axes in query order).
    log_partition
        :math:`\\log Z` of the conditioned graph; for a Bayesian network, the log evidence :math:`\\log p(e)`.
    order
        The elimination order used.
    """

    marginal: Factor
    log_partition: float
    order: tuple[str, ...]


def _interaction_graph(scopes: Sequence[Sequence[str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for scope in scopes:
        for v in scope:
            graph.setdefault(v, set()).update(u for u in scope if u != v)
    return graph


def elimination_order(scopes: Sequence[Sequence[str]], variables: Sequence[str] | None = None,
                      heuristic: str = "min_fill") -> tuple[str, ...]:
    """Greedy elimination order of ``variables`` on the interaction graph of ``scopes``.

    Parameters
    ----------
    scopes
        The factor scopes (tuples of variable names).
    variables
        Which variables to order (default: all).
    heuristic
        ``"min_fill"`` (fewest fill-in edges, ties broken by the clique weight) or ``"min_degree"``.
    """
    if heuristic not in _HEURISTICS:
        raise ValueError(f"heuristic must be one of {_HEURISTICS}, got {heuristic!r}.")
    graph = _interaction_graph(scopes)
    todo = list(graph) if variables is None else list(variables)
    for v in todo:
        graph.setdefault(v, set())
    order = []
    remaining = set(todo)
    while remaining:
        def cost(v: str) -> tuple[int, int]:
            nbrs = list(graph[v])
            fill = sum(1 for i, a in enumerate(nbrs) for b in nbrs[i + 1:] if b not in graph[a])
            return (fill, len(nbrs)) if heuristic == "min_fill" else (len(nbrs), fill)
        v = min(sorted(remaining), key=cost)
        nbrs = graph.pop(v)
        for a in nbrs:
            graph[a].discard(v)
            graph[a].update(nbrs - {a})
        remaining.discard(v)
        order.append(v)
    return tuple(order)


def _sum_out(factors: Sequence[Factor], variable: str) -> Factor:
    """:math:`\\log\\sum_y\\prod_a\\phi_a`, contracted by opt_einsum on max-shifted tables."""
    letters: dict[str, str] = {}
    for f in factors:
        for v in f.variables:
            letters.setdefault(v, opt_einsum.get_symbol(len(letters)))
    kept = tuple(v for v in letters if v != variable)
    shifts = [f.log_values.max() if np.isfinite(f.log_values.max()) else 0.0 for f in factors]
    subscripts = ",".join("".join(letters[v] for v in f.variables) for f in factors)
    out = "".join(letters[v] for v in kept)
    tables = [np.exp(f.log_values - s) for f, s in zip(factors, shifts)]
    total = opt_einsum.contract(f"{subscripts}->{out}", *tables)
    with np.errstate(divide="ignore"):
        return Factor(kept, np.log(total) + sum(shifts))


def variable_elimination(graph: FactorGraph, query: Sequence[str], *,
                         evidence: Mapping[str, int | str] | None = None,
                         heuristic: str = "min_fill") -> EliminationResult:
    """Exact marginal :math:`p(x_Q\\mid e)` and partition function by variable elimination.

    Parameters
    ----------
    graph
        The model as a :class:`FactorGraph` (``BayesianNetwork.to_factor_graph()``, ``PairwiseMRF.to_factor_graph()``).
    query
        Variables of the joint marginal; may be empty (then only :math:`\\log Z` is computed).
    evidence
        ``{variable: state}`` with state names or indices.
    heuristic
        Elimination heuristic, see :func:`elimination_order`.

    Examples
    --------
    >>> from pgm_ppl.graphical import BayesianNetwork
    >>> bn = BayesianNetwork({"rain": (), "wet": ("rain",)},
    ...                      {"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.2, 0.8]]})
    >>> res = variable_elimination(bn.to_factor_graph(), ["rain"], evidence={"wet": 1})
    >>> res.marginal.values.round(4)
    array([0.3333, 0.6667])
    """
    query = tuple(query)
    conditioned = graph.condition(evidence)
    cards = conditioned.cardinalities
    for v in query:
        if v not in cards:
            raise ValueError(f"Query variable {v!r} is unknown or observed; free variables: {sorted(cards)}.")
    hidden = [v for v in cards if v not in query]
    factors = list(conditioned.factors)
    order = elimination_order([f.variables for f in factors], hidden, heuristic)
    for y in order:
        touching = [f for f in factors if y in f.variables]
        factors = [f for f in factors if y not in f.variables]
        factors.append(_sum_out(touching, y))
    joint = factor_product(factors + [Factor(query, np.zeros([cards[v] for v in query]))])
    joint = joint.transpose(query)
    log_z = float(joint.marginalize(query).log_values)
    if not np.isfinite(log_z):
        raise ValueError("The evidence has probability zero under the model (log Z = -inf).")
    return EliminationResult(Factor(query, joint.log_values - log_z), log_z, order)


def log_partition(graph: FactorGraph, *, evidence: Mapping[str, int | str] | None = None,
                  heuristic: str = "min_fill") -> float:
    """:math:`\\log Z` (log evidence for a Bayesian network) by variable elimination.

    See Also
    --------
    variable_elimination : the same computation returning a marginal as well.
    """
    return variable_elimination(graph, (), evidence=evidence, heuristic=heuristic).log_partition
