"""Junction trees: compile once, then calibrate by two-pass sum- or max-product for any evidence.

Triangulating the interaction graph along an elimination order gives cliques :math:`C_1,\\dots,C_m`; a
maximum-weight spanning tree over separator sizes :math:`|C_i\\cap C_j|` has the running-intersection
property. Each factor is multiplied into one clique that covers its scope, :math:`\\psi_i=\\prod_{a\\to i}\\phi_a`.
Shafer-Shenoy messages along the tree edges,

.. math::

    m_{i\\to j}(x_{S_{ij}}) = \\bigoplus_{x_{C_i\\setminus S_{ij}}} \\psi_i(x_{C_i}) \\prod_{k\\in N(i)\\setminus j} m_{k\\to i}(x_{S_{ki}}),

with :math:`\\oplus=\\sum` (sum-product) or :math:`\\max` (max-product), sent leaves-to-root then root-to-leaves,
leave every clique belief :math:`\\beta_i=\\psi_i\\prod_{k}m_{k\\to i}` proportional to the exact marginal
(or max-marginal) of :math:`x_{C_i}`. Messages are rescaled to unit mass and the scales are summed in log
space, so :math:`\\log Z` (or the log of the largest joint value) comes out without underflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .elimination import elimination_order
from .factors import FactorGraph

__all__ = ["JunctionTree", "Calibration"]

_KINDS = ("sum", "max")


def _triangulate(scopes: Sequence[Sequence[str]], heuristic: str) -> list[tuple[str, ...]]:
    """Maximal cliques of the graph triangulated along the elimination order."""
    order = elimination_order(scopes, heuristic=heuristic)
    graph: dict[str, set[str]] = {v: set() for v in order}
    for s in scopes:
        for v in s:
            graph[v].update(u for u in s if u != v)
    cliques: list[set[str]] = []
    for v in order:
        nbrs = graph.pop(v)
        candidate = nbrs | {v}
        if not any(candidate <= c for c in cliques):
            cliques.append(candidate)
        for a in nbrs:
            graph[a].discard(v)
            graph[a].update(nbrs - {a})
    rank = {v: i for i, v in enumerate(order)}
    return [tuple(sorted(c, key=rank.__getitem__)) for c in cliques]


def _spanning_tree(cliques: Sequence[tuple[str, ...]]) -> list[tuple[int, int]]:
    """Kruskal's maximum-weight spanning tree (weight: separator size); isolated parts joined by empty separators."""
    candidates = sorted(((len(set(a) & set(b)), i, j) for i, a in enumerate(cliques)
                         for j, b in enumerate(cliques) if i < j), key=lambda e: -e[0])
    root = list(range(len(cliques)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    edges = []
    for _, i, j in candidates:
        ri, rj = find(i), find(j)
        if ri != rj:
            root[ri] = rj
            edges.append((i, j))
    return edges


class JunctionTree:
    """A compiled junction tree of a factor graph; :meth:`calibrate` runs inference for given evidence.

    Parameters
    ----------
    graph
        The model (for example ``BayesianNetwork.to_factor_graph()``).
    heuristic
        Triangulation order, ``"min_fill"`` or ``"min_degree"``.

    Examples
    --------
    >>> from pgm_ppl.graphical import BayesianNetwork
    >>> bn = BayesianNetwork({"rain": (), "wet": ("rain",)},
    ...                      {"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.2, 0.8]]})
    >>> jt = JunctionTree(bn.to_factor_graph())
    >>> jt.calibrate({"wet": 1}).marginal("rain").round(4)
    array([0.3333, 0.6667])
    """

    def __init__(self, graph: FactorGraph, heuristic: str = "min_fill") -> None:
        if not isinstance(graph, FactorGraph):
            raise TypeError(f"graph must be a FactorGraph, got {type(graph).__name__}.")
        self.graph = graph
        self.cardinalities = graph.cardinalities
        self.cliques = _triangulate([f.variables for f in graph.factors], heuristic)
        self._build_tree(_spanning_tree(self.cliques))
        self._covering: dict[frozenset, int] = {}
        self._build_potentials()
        self.home = {v: min((i for i, c in enumerate(self.cliques) if v in c), key=lambda i: len(self.cliques[i]))
                     for v in self.cardinalities}

    def _build_tree(self, edges: list[tuple[int, int]]) -> None:
        nbrs: dict[int, list[int]] = {i: [] for i in range(len(self.cliques))}
        for i, j in edges:
            nbrs[i].append(j)
            nbrs[j].append(i)
        self.parent = {0: -1}
        self.preorder = [0]
        for i in self.preorder:
            for j in nbrs[i]:
                if j not in self.parent:
                    self.parent[j] = i
                    self.preorder.append(j)
        self.children = {i: [j for j in nbrs[i] if self.parent.get(j) == i] for i in nbrs}
        # Message plans: (axes of the sender to reduce, permutation of the rest, shape in the receiver).
        self._plan = {}
        for c in self.preorder[1:]:
            p = self.parent[c]
            self._plan[(c, p)] = self._message_plan(self.cliques[c], self.cliques[p])
            self._plan[(p, c)] = self._message_plan(self.cliques[p], self.cliques[c])

    def _message_plan(self, sender: tuple[str, ...], receiver: tuple[str, ...]):
        sep = [v for v in sender if v in receiver]
        reduce_axes = tuple(i for i, v in enumerate(sender) if v not in receiver)
        in_receiver = [v for v in receiver if v in sep]
        perm = tuple(sep.index(v) for v in in_receiver)
        shape = tuple(self.cardinalities[v] if v in sep else 1 for v in receiver)
        return reduce_axes, perm, shape

    def _build_potentials(self) -> None:
        log_psi = [np.zeros([self.cardinalities[v] for v in c]) for c in self.cliques]
        for f in self.graph.factors:
            i = min((i for i, c in enumerate(self.cliques) if set(f.variables) <= set(c)),
                    key=lambda i: len(self.cliques[i]))
            log_psi[i] = log_psi[i] + f.expand(self.cliques[i], self.cardinalities)
        if not all(np.isfinite(t.max()) for t in log_psi):
            raise ValueError("The model gives probability zero to every configuration.")
        self._offset = sum(float(t.max()) for t in log_psi)
        self._psi = [np.exp(t - t.max()) for t in log_psi]

    def covering_clique(self, variables: Sequence[str]) -> int:
        """Index of the smallest clique containing all of ``variables`` (memoised)."""
        key = frozenset(variables)
        if key not in self._covering:
            found = [i for i, c in enumerate(self.cliques) if key <= set(c)]
            if not found:
                raise ValueError(f"No clique contains all of {sorted(key)}; query a factor's scope or use "
                                 "variable_elimination.")
            self._covering[key] = min(found, key=lambda i: len(self.cliques[i]))
        return self._covering[key]

    def calibrate(self, evidence: Mapping[str, int | str] | None = None, kind: str = "sum") -> Calibration:
        """Two-pass message passing with the evidence entered as indicator potentials.

        Parameters
        ----------
        evidence
            ``{variable: state}`` with state names or indices.
        kind
            ``"sum"`` for marginals and :math:`\\log Z`; ``"max"`` for max-marginals and the MAP assignment.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}.")
        index = self.graph.state_index(evidence)
        psi = list(self._psi)
        for v, s in index.items():
            i = self.home[v]
            axis = self.cliques[i].index(v)
            mask = np.zeros(self.cardinalities[v])
            mask[s] = 1.0
            psi[i] = psi[i] * mask.reshape([-1 if a == axis else 1 for a in range(psi[i].ndim)])
        op = np.sum if kind == "sum" else np.max
        msgs: dict[tuple[int, int], np.ndarray] = {}
        log_scale = self._offset
        for c in reversed(self.preorder[1:]):
            prod = psi[c]
            for k in self.children[c]:
                prod = prod * msgs[(k, c)]
            msg, scale = self._send(prod, (c, self.parent[c]), op)
            msgs[(c, self.parent[c])] = msg
            log_scale += scale
        beliefs = [None] * len(self.cliques)
        for p in self.preorder:
            incoming = [msgs[(k, p)] for k in self.children[p]]
            if self.parent[p] >= 0:
                incoming.append(msgs[(self.parent[p], p)])
            belief = psi[p]
            for m in incoming:
                belief = belief * m
            beliefs[p] = belief
            for c in self.children[p]:
                prod = psi[p]
                for m, k in zip(incoming, self.children[p] + [self.parent[p]]):
                    if k != c:
                        prod = prod * m
                msgs[(p, c)] = self._send(prod, (p, c), op)[0]
        total = float(op(beliefs[0]))
        if total <= 0.0:
            raise ValueError(f"The evidence {dict(evidence or {})} has probability zero under the model.")
        beliefs = [b / op(b) for b in beliefs]
        return Calibration(self, tuple(beliefs), float(np.log(total) + log_scale), kind, index)

    def _send(self, prod: np.ndarray, edge: tuple[int, int], op) -> tuple[np.ndarray, float]:
        reduce_axes, perm, shape = self._plan[edge]
        msg = op(prod, axis=reduce_axes) if reduce_axes else prod
        msg = np.transpose(msg, perm).reshape(shape)
        scale = op(msg)
        if scale <= 0.0:
            return msg, -np.inf
        return msg / scale, float(np.log(scale))


@dataclass(frozen=True, eq=False)
class Calibration:
    """A calibrated junction tree: clique beliefs and :math:`\\log Z` (or log max-value).

    Attributes
    ----------
    tree
        The :class:`JunctionTree` that was calibrated.
    beliefs
        Normalised clique beliefs (sum to 1 for ``kind="sum"``, max 1 for ``"max"``), axes as ``tree.cliques``.
    log_value
        ``kind="sum"``: :math:`\\log Z` of the model with the evidence (the log evidence for a Bayesian
        network). ``kind="max"``: :math:`\\max_x\\log\\prod_a\\phi_a(x, e)` (for a Bayesian network
        :math:`\\log p(x^\\star, e)`).
    kind
        ``"sum"`` or ``"max"``.
    evidence
        The evidence as state indices.
    """

    tree: JunctionTree
    beliefs: tuple[np.ndarray, ...]
    log_value: float
    kind: str
    evidence: Mapping[str, int]

    def marginal(self, variable: str) -> np.ndarray:
        """Posterior marginal :math:`p(x_v\\mid e)` (or normalised max-marginal for ``kind="max"``)."""
        if variable not in self.tree.home:
            raise ValueError(f"Unknown variable {variable!r}; known: {sorted(self.tree.home)}.")
        i = self.tree.home[variable]
        clique = self.tree.cliques[i]
        axes = tuple(a for a, v in enumerate(clique) if v != variable)
        out = self.beliefs[i].sum(axis=axes) if self.kind == "sum" else self.beliefs[i].max(axis=axes)
        return out / (out.sum() if self.kind == "sum" else out.max())

    def marginals(self) -> dict[str, np.ndarray]:
        """Single-variable marginals of every variable (observed ones are point masses), as arrays by state index."""
        return {v: self.marginal(v) for v in self.tree.home}

    def named_marginal(self, variable: str) -> dict[str | int, float]:
        """:meth:`marginal` keyed by state name (``{"yes": 0.10, "no": 0.90}``) when the variable's states are named
        (a network read by :func:`~pgm_ppl.graphical.read_bif`, or built with ``state_names``), else by state index."""
        probs = self.marginal(variable)
        names = self.tree.graph.state_names.get(variable) or range(len(probs))
        return {name: float(p) for name, p in zip(names, probs)}

    def named_marginals(self) -> dict[str, dict[str | int, float]]:
        """Every variable's :meth:`named_marginal`."""
        return {v: self.named_marginal(v) for v in self.tree.home}

    def clique_marginal(self, variables: Sequence[str]) -> np.ndarray:
        """Joint marginal of ``variables``, which must lie in one clique (any factor's scope does)."""
        variables = tuple(variables)
        i = self.tree.covering_clique(variables)
        c = self.tree.cliques[i]
        axes = tuple(a for a, v in enumerate(c) if v not in variables)
        table = self.beliefs[i].sum(axis=axes) if self.kind == "sum" else self.beliefs[i].max(axis=axes)
        kept = [v for v in c if v in variables]
        return np.transpose(table, [kept.index(v) for v in variables])

    def sample(self, num_samples: int, *, seed: int | np.random.Generator = 0) -> np.ndarray:
        """Exact joint samples from :math:`p(x\\mid e)`, clique by clique from the root (``kind="sum"`` only).

        The root clique is drawn from its belief; every other clique draws its new variables from its belief
        conditioned on the separator values already drawn. Vectorised over samples.

        Returns
        -------
        numpy.ndarray
            Integer states, shape ``(num_samples, num_variables)``, columns in ``tree.graph.variables`` order
            (evidence columns hold the observed states).
        """
        if self.kind != "sum":
            raise ValueError("sample needs a sum-product calibration: calibrate(..., kind='sum').")
        if int(num_samples) < 1:
            raise ValueError(f"num_samples must be positive, got {num_samples}.")
        rng = np.random.default_rng(seed)
        drawn: dict[str, np.ndarray] = {}
        for i in self.tree.preorder:
            clique = self.tree.cliques[i]
            known = [v for v in clique if v in drawn]
            free = [v for v in clique if v not in drawn]
            if not free:
                continue
            table = np.transpose(self.beliefs[i], [clique.index(v) for v in known + free])
            rows = table[tuple(drawn[v] for v in known)] if known else table[None]
            rows = np.broadcast_to(rows, (int(num_samples),) + rows.shape[1:]).reshape(int(num_samples), -1)
            cdf = np.cumsum(rows, axis=1)
            u = rng.random((int(num_samples), 1)) * cdf[:, -1:]
            flat = np.minimum((u >= cdf).sum(axis=1), cdf.shape[1] - 1)
            for v, states in zip(free, np.unravel_index(flat, table.shape[len(known):])):
                drawn[v] = states
        return np.stack([drawn[v] for v in self.tree.graph.variables], axis=1)

    def map_assignment(self) -> dict[str, int]:
        """Most probable joint state :math:`x^\\star=\\arg\\max_x p(x\\mid e)`, decoded root to leaves."""
        if self.kind != "max":
            raise ValueError("map_assignment needs a max-product calibration: calibrate(..., kind='max').")
        assignment: dict[str, int] = {}
        for i in self.tree.preorder:
            clique = self.tree.cliques[i]
            index = tuple(assignment.get(v, slice(None)) for v in clique)
            free = [v for v in clique if v not in assignment]
            table = self.beliefs[i][index]
            if free:
                best = np.unravel_index(int(np.argmax(table)), table.shape)
                assignment.update({v: int(s) for v, s in zip(free, best)})
        return assignment
